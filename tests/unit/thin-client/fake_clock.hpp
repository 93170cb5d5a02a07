#pragma once
#include "labdesk/viewer/clock.hpp"

namespace labdesk::viewer::testing {
class FakeClock final : public Clock {
 public:
  [[nodiscard]] Millis now() const override { return t_; }
  void advance(Millis d) { t_ += d; }
 private:
  Millis t_{1000000};
};
}  // namespace labdesk::viewer::testing
