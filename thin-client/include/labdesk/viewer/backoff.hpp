// Reconnect policy: exponential backoff with bounded jitter, reset after a good connection.
#pragma once

#include <cstdint>

#include "labdesk/viewer/clock.hpp"

namespace labdesk::viewer {

struct BackoffPolicy {
  Millis first{200};   // the first retry comes fast: most drops are a blip
  Millis max{4000};    // a lab PC on a flapping link should still come back within seconds
  double factor = 2.0;
  double jitter = 0.2;  // ±20 %, so a lab full of PCs does not retry in lockstep
};

class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy = {}, std::uint32_t seed = 1) : policy_(policy), rng_(seed) {}
  // The delay before the next attempt; grows until `max`.
  Millis next();
  void reset() { attempt_ = 0; }
  [[nodiscard]] unsigned attempts() const { return attempt_; }

 private:
  BackoffPolicy policy_;
  std::uint32_t rng_;
  unsigned attempt_ = 0;
};

}  // namespace labdesk::viewer
