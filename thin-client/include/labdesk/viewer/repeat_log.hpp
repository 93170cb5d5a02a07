// Which of a run of identical failures deserve a log line. A desktop port that refuses for
// minutes is retried every 0.2-4 s (backoff); logging each try flooded the log. The first failure
// is logged, then tries 2, 4, 8, 16, ... (one line per doubling of the backoff while it grows,
// ever rarer once it is capped), and a success after failures says how many there were.
#pragma once

#include <optional>
#include <string>

namespace labdesk::viewer {

class RepeatLog {
 public:
  // One more failure of `what` (e.g. "host:port"): the number of consecutive failures when this
  // one should be logged, nothing when it should stay quiet. Another `what` starts a new run.
  std::optional<unsigned> failed(const std::string& what);
  // The failures of the run that this success ends (0: none); the next failure is a first again.
  unsigned succeeded();

 private:
  std::string what_;
  unsigned count_ = 0;
};

}  // namespace labdesk::viewer
