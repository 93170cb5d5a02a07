#include "labdesk/viewer/repeat_log.hpp"

namespace labdesk::viewer {

std::optional<unsigned> RepeatLog::failed(const std::string& what) {
  if (what != what_) {
    what_ = what;
    count_ = 0;
  }
  ++count_;
  bool power_of_two = (count_ & (count_ - 1)) == 0;
  if (!power_of_two) return std::nullopt;
  return count_;
}

unsigned RepeatLog::succeeded() {
  unsigned n = count_;
  count_ = 0;
  what_.clear();
  return n;
}

}  // namespace labdesk::viewer
