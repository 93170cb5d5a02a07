// The one mapping from the admin's config to the planner's policy: the boot-server's broker and
// labdesk-plan both plan from it. Above both the pure planner and common's config.
#pragma once

#include "labdesk/allocator/model.hpp"
#include "labdesk/common/planner_config.hpp"

namespace labdesk::config {

// [tiers] and [placement] as the planner's policy; `c` has passed validate_planner().
alloc::Policy planner_policy(const PlannerConfig& c);

}  // namespace labdesk::config
