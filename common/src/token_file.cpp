#include "labdesk/common/token_file.hpp"

#include <cctype>
#include <fstream>

#include "labdesk/common/error.hpp"

namespace labdesk {

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    throw Failure(Error{"config", "cannot read token file '" + path + "': create it with one line holding the token", 500});
  }
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  if (line.size() < 16) {
    throw Failure(Error{"config", "token in '" + path + "' is shorter than 16 characters: use a long random token", 500});
  }
  return line;
}

}  // namespace labdesk
