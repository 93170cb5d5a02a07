// labdesk-plan's whole behaviour behind one function, so tests drive it with string streams.
#pragma once

#include <iosfwd>

namespace labdesk::plan_cli {

struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

// Exit codes: 0 ok, 1 some input lines were rejected as malformed, 2 bad arguments or config.
int run(int argc, const char* const* argv, Io io);

}  // namespace labdesk::plan_cli
