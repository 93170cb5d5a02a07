// The tier rule: which memory size a user count calls for.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "labdesk/allocator/model.hpp"

namespace labdesk::alloc {

// The paper's thresholds (seed 002, eq. 1): S equal hosts, each tier half the one before.
std::int64_t paper_threshold(std::size_t m, std::int64_t servers);

// Generalised thresholds for any hosts: U_m = floor(C / t_m) - 1, C = total usable capacity.
class TierTable {
 public:
  TierTable(std::span<const Host> hosts, std::vector<Mib> tiers);

  [[nodiscard]] Mib capacity() const { return capacity_; }
  [[nodiscard]] const std::vector<Mib>& tiers() const { return tiers_; }
  [[nodiscard]] const std::vector<std::int64_t>& thresholds() const { return thresholds_; }
  [[nodiscard]] std::size_t smallest() const { return tiers_.size() - 1; }

  // The smallest m with users <= U_m; past U_M the smallest tier (the last slot, if it fits).
  [[nodiscard]] std::size_t tier_for(std::size_t users) const;
  [[nodiscard]] Mib size_for(std::size_t users) const { return tiers_[tier_for(users)]; }

 private:
  std::vector<Mib> tiers_;
  std::vector<std::int64_t> thresholds_;
  Mib capacity_ = 0;
};

}  // namespace labdesk::alloc
