#include "labdesk/common/token_file.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <fstream>

#include "labdesk/common/error.hpp"

namespace labdesk {

std::string read_token_file(const std::string& path) {
  // As ssh does with keys: a secret others can read is no longer a secret, so it is not used.
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw Failure(Error{"config", "token file '" + path + "' is readable or writable by group or others (mode " + mode +
                                      "): run 'chmod 600 " + path + "'", 500});
  }
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
