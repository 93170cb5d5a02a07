#include "labdesk/agent/names.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace labdesk::agent {
namespace {

bool name_chars(std::string_view s, bool upper) {
  return std::all_of(s.begin(), s.end(), [upper](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::islower(u) || std::isdigit(u) || (upper && std::isupper(u)) || c == '.' ||
           c == '_' || c == '-';
  });
}

Result<void> check(std::string_view what, std::string_view v, std::size_t max, bool upper) {
  if (v.empty() || v.size() > max || !name_chars(v, upper) || v.front() == '.' || v.front() == '-') {
    return fail("bad_name", std::string(what) + " '" + std::string(v) + "' is not allowed: use 1-" +
                                std::to_string(max) + (upper ? " letters" : " lower-case letters") +
                                ", digits, '.', '_' or '-', not starting with '.' or '-'");
  }
  return {};
}

}  // namespace

Result<void> check_user(std::string_view user) { return check("user", user, 32, false); }
Result<void> check_session(std::string_view session) { return check("session", session, 64, true); }

bool is_desktop_name(std::string_view name) {
  if (name.size() < 3 + 1 + 7 || !name.starts_with("ld-")) return false;
  auto dash = name.rfind('-');
  if (dash == std::string_view::npos || name.size() - dash - 1 != 6) return false;
  auto hex = name.substr(dash + 1);
  if (!std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c)); })) return false;
  return check_user(name.substr(3, dash - 3)).has_value();
}

std::string user_of(std::string_view name) {
  if (!is_desktop_name(name)) return "";
  return std::string(name.substr(3, name.rfind('-') - 3));
}

bool inside(const std::string& dir, const std::string& path) {
  namespace fs = std::filesystem;
  if (dir.empty() || path.empty() || path.front() != '/' || dir.front() != '/') return false;
  std::error_code ec;
  fs::path d = fs::weakly_canonical(dir, ec);
  if (ec) return false;
  fs::path p = fs::weakly_canonical(path, ec);
  if (ec) return false;
  auto rel = p.lexically_relative(d);
  if (rel.empty() || rel == ".") return false;
  return *rel.begin() != "..";
}

std::string join_inside(const std::string& dir, const std::string& file) {
  std::string p = dir + "/" + file;
  if (file.find('/') != std::string::npos || file == ".." || file == "." || !inside(dir, p)) {
    throw Failure(Error{"bad_path", "path '" + p + "' would leave directory '" + dir + "'", 400});
  }
  return p;
}

}  // namespace labdesk::agent
