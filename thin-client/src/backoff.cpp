#include "labdesk/viewer/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace labdesk::viewer {

Millis Backoff::next() {
  double base = static_cast<double>(policy_.first.count()) *
                std::pow(policy_.factor, static_cast<double>(std::min(attempt_, 30U)));
  base = std::min(base, static_cast<double>(policy_.max.count()));
  ++attempt_;
  // xorshift32: deterministic per seed, good enough to spread a lab's retries.
  rng_ ^= rng_ << 13U;
  rng_ ^= rng_ >> 17U;
  rng_ ^= rng_ << 5U;
  double unit = static_cast<double>(rng_) / 4294967295.0;  // [0,1]
  double factor = 1.0 + policy_.jitter * (2.0 * unit - 1.0);
  return Millis{static_cast<long>(std::llround(base * factor))};
}

}  // namespace labdesk::viewer
