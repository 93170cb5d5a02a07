// labdeskctl: the admin CLI over the boot-server's admin API. Human tables by default, --json for
// scripts. Behind one function so tests drive it with string streams.
#pragma once

#include <iosfwd>

namespace labdesk::ctl {

struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

// Exit codes: 0 ok, 1 the server refused (4xx/5xx), 2 bad arguments, 3 server unreachable.
int run(int argc, const char* const* argv, Io io);

}  // namespace labdesk::ctl
