#include "labdesk/allocator/from_config.hpp"

namespace labdesk::config {

alloc::Policy planner_policy(const PlannerConfig& c) {
  alloc::Policy p;
  p.tiers = c.tiers.mib;
  p.mode = c.tiers.mode == alloc::to_string(alloc::Mode::balloon) ? alloc::Mode::balloon : alloc::Mode::handoff;
  p.weights = {c.placement.memory_weight, c.placement.cpu_weight, c.placement.network_weight};
  return p;
}

}  // namespace labdesk::config
