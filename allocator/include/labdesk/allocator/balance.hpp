// Which running desktop to move live so that the hosts even out (issue #17's rebalancing): a
// pure choice over the cluster and measured loads, made by the boot-server on its own schedule.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "labdesk/allocator/model.hpp"

namespace labdesk::alloc {

struct BalancePolicy {
  // Move when the fullest and the emptiest host's memory use (share of their usable memory)
  // differ by more than this...
  double memory_spread = 0.25;
  // ...or, with memory even, their CPU utilization (0..1) does.
  double cpu_spread = 0.5;
};

struct Rebalance {
  std::string user;
  HostIndex from = 0;
  HostIndex to = 0;
  std::string reason;  // one sentence with the figures, for the log and the dashboard
};

// Hosts with no usable memory (down, drained) neither give nor take. A move must fit beside
// what the destination holds, and must narrow the gap it is made for, so that repeated calls
// converge and never move a desktop back and forth. `vm_cpu`: each user's desktop CPU use as a
// share of its host (0..1), measured by the caller; users without a figure count as idle.
// Users in `pinned` (moved a moment ago) stay where they are.
std::optional<Rebalance> pick_rebalance(const Cluster& c, const BalancePolicy& p,
                                        const std::map<std::string, double>& vm_cpu = {},
                                        const std::set<std::string>& pinned = {});

}  // namespace labdesk::alloc
