// Names that become file names or libvirt domain names, and the rule that the agent never touches
// a file outside its configured directories.
#pragma once

#include <string>
#include <string_view>

#include "labdesk/common/error.hpp"

namespace labdesk::agent {

// [a-z0-9._-], 1..32, not starting with '.' or '-'.
Result<void> check_user(std::string_view user);
// [A-Za-z0-9._-], 1..64, not starting with '.' or '-'.
Result<void> check_session(std::string_view session);
// "ld-<user>-<6 hex>".
bool is_desktop_name(std::string_view name);
// The user part of a desktop name ("" if it is not one).
std::string user_of(std::string_view desktop_name);

// True when `path` is absolute and lies inside `dir` after resolving "..", "." and symlinks.
bool inside(const std::string& dir, const std::string& path);
// dir + "/" + file, refusing (Failure, status 400) anything that would leave dir.
std::string join_inside(const std::string& dir, const std::string& file);

}  // namespace labdesk::agent
