#include "naive_planner.hpp"

namespace labdesk::bench {

alloc::Plan naive_arrive(const alloc::Cluster& c, const alloc::Policy& p, const std::string& user) {
  alloc::TierTable table(c.hosts, p.tiers);
  alloc::Mib tier = table.size_for(c.users.size() + 1);
  std::vector<alloc::Mib> used(c.hosts.size(), 0);
  for (const auto& vm : c.users) used[vm.host] += vm.mib;
  for (std::size_t h = 0; h < c.hosts.size(); ++h) {
    if (c.hosts[h].usable() - used[h] >= tier) {
      return {{{alloc::Op::start, user, h, tier, 0, {}}, {alloc::Op::switch_to, user, h, tier, 0, {}}}};
    }
  }
  return {{{alloc::Op::reject, user, std::nullopt, tier, 0, "no capacity"}}};
}

}  // namespace labdesk::bench
