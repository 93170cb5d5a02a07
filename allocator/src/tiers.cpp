#include "labdesk/allocator/tiers.hpp"

#include <numeric>

namespace labdesk::alloc {

std::int64_t paper_threshold(std::size_t m, std::int64_t servers) {
  return (std::int64_t{1} << m) * servers - 1;
}

TierTable::TierTable(std::span<const Host> hosts, std::vector<Mib> tiers)
    : tiers_(std::move(tiers)) {
  capacity_ = std::accumulate(hosts.begin(), hosts.end(), Mib{0},
                              [](Mib sum, const Host& h) { return sum + h.usable(); });
  for (Mib t : tiers_) thresholds_.push_back(capacity_ / t - 1);
}

std::size_t TierTable::tier_for(std::size_t users) const {
  for (std::size_t m = 0; m < thresholds_.size(); ++m) {
    if (static_cast<std::int64_t>(users) <= thresholds_[m]) return m;
  }
  return smallest();
}

}  // namespace labdesk::alloc
