// Bearer tokens live in files (one line); every daemon reads them the same way.
#pragma once

#include <string>

namespace labdesk {

// The first line of `path`, trailing white space removed. Throws labdesk::Failure naming the
// file when it cannot be read, is open to group or others (as ssh refuses such keys), or the
// token is shorter than 16 characters.
std::string read_token_file(const std::string& path);

}  // namespace labdesk
