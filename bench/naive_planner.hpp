// The anchor for the allocator benchmark: a first-fit planner that gives the newcomer the tier
// size on the first host with room and never shrinks anyone (what a lab gets without labdesk's
// planning). Same inputs, same outputs, none of the guarantees.
#pragma once

#include "labdesk/allocator/planner.hpp"

namespace labdesk::bench {

alloc::Plan naive_arrive(const alloc::Cluster& c, const alloc::Policy& p, const std::string& user);

}  // namespace labdesk::bench
