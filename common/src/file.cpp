#include "labdesk/common/file.hpp"

#include <fstream>
#include <sstream>

namespace labdesk {

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace labdesk
