// Time comes in through this interface so the session logic can be tested without sleeping.
#pragma once

#include <chrono>

namespace labdesk::viewer {

using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time since an arbitrary origin.
  [[nodiscard]] virtual Millis now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  [[nodiscard]] Millis now() const override {
    return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now().time_since_epoch());
  }
};

}  // namespace labdesk::viewer
