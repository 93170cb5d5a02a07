// JSON shapes printed by labdesk-plan.
#pragma once

#include <nlohmann/json.hpp>

#include "labdesk/allocator/model.hpp"

namespace labdesk::plan_cli {

nlohmann::ordered_json step_json(const alloc::Step& s);
nlohmann::ordered_json steps_json(const alloc::Plan& p);
nlohmann::ordered_json users_json(const alloc::Cluster& c);
nlohmann::ordered_json hosts_json(const alloc::Cluster& c);

}  // namespace labdesk::plan_cli
