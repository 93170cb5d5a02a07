#include "labdesk/allocator/planner.hpp"

#include <algorithm>
#include <unordered_map>

#include "sim.hpp"

namespace labdesk::alloc {
namespace {

std::optional<std::size_t> index_of(const Cluster& c, const std::string& user) {
  for (std::size_t i = 0; i < c.users.size(); ++i) {
    if (c.users[i].user == user) return i;
  }
  return std::nullopt;
}

// Room to keep free for the arrival after `users` are connected: the tier that arrival gets,
// or nothing once the last slot is taken.
Mib reserve_after(const TierTable& t, std::size_t users) {
  auto last_slot = static_cast<std::size_t>(std::max<std::int64_t>(t.thresholds().back() + 1, 0));
  return users + 1 <= last_slot ? t.size_for(users + 1) : 0;
}

// Whether shrinking every remaining candidate could still open `need` on one host.
bool reachable(const detail::Sim& sim, const std::vector<std::size_t>& cands,
               std::size_t from, Mib tier, Mib need) {
  std::unordered_map<HostIndex, Mib> gain;
  Mib best = 0;
  for (HostIndex h = 0; h < sim.hosts(); ++h) best = std::max(best, sim.free(h));
  for (std::size_t k = from; k < cands.size(); ++k) {
    HostIndex h = sim.host_of(cands[k]);
    gain[h] += sim.mib_of(cands[k]) - tier;
    best = std::max(best, sim.free(h) + gain[h]);
  }
  return best >= need;
}

Mib start_ceiling(const Policy& p, const Host& h, Mib mib) {
  return p.mode == Mode::balloon ? std::max(mib, std::min(p.tiers.front(), h.usable())) : mib;
}

}  // namespace

const char* to_string(Op op) {
  switch (op) {
    case Op::start: return "start";
    case Op::switch_to: return "switch";
    case Op::destroy: return "destroy";
    case Op::resize: return "resize";
    case Op::reject: return "reject";
  }
  return "?";
}

const char* to_string(Mode mode) { return mode == Mode::balloon ? "balloon" : "handoff"; }

Planner::Planner(Policy policy) : policy_(std::move(policy)) {}

std::expected<Plan, std::string> Planner::arrive(const Cluster& c, const std::string& user) const {
  if (index_of(c, user)) return std::unexpected("user '" + user + "' is already connected");
  TierTable table(c.hosts, policy_.tiers);
  const std::size_t n = c.users.size() + 1;
  const Mib tier = table.size_for(n);
  const Mib reserve = reserve_after(table, n);

  detail::Sim sim(c, policy_);
  std::vector<std::size_t> cands;  // above the tier, most recently connected first
  for (std::size_t i = c.users.size(); i-- > 0;) {
    if (c.users[i].mib > tier) cands.push_back(i);
  }
  std::size_t next = 0;
  while (!sim.fits_keeping(tier, reserve) && next < cands.size()) {
    if (sim.fits_keeping(tier, 0) && !reachable(sim, cands, next, tier, reserve)) {
      break;  // the newcomer fits; no shrinking could keep the reserve too, so shrink nobody more
    }
    std::size_t u = cands[next++];
    if (policy_.mode == Mode::balloon) {
      sim.resize(u, tier);
    } else {
      sim.handoff(u, tier, tier);
    }
  }
  auto host = sim.best_host(tier, reserve);
  if (!host && sim.defragment(tier)) host = sim.best_host(tier, reserve);
  if (!host) {
    Plan reject;
    reject.steps.push_back(Step{Op::reject, user, std::nullopt, tier, 0,
                                "no capacity: no host can take a " + std::to_string(tier) +
                                    " MiB desktop for user " + std::to_string(n) +
                                    " even with every user at the smallest tier"});
    return reject;
  }
  sim.start(user, *host, tier, start_ceiling(policy_, c.hosts[*host], tier));
  sim.switch_to(user, *host, tier);
  return Plan{sim.take_steps()};
}

std::expected<Plan, std::string> Planner::depart(const Cluster& c, const std::string& user) const {
  auto i = index_of(c, user);
  if (!i) return std::unexpected("user '" + user + "' is not connected");
  const Vm& vm = c.users[*i];
  return Plan{{Step{Op::destroy, user, vm.host, vm.mib, 0, {}}}};
}

Plan Planner::grow(const Cluster& c) const {
  if (c.users.empty()) return {};
  TierTable table(c.hosts, policy_.tiers);
  const Mib tier = table.size_for(c.users.size());
  const Mib reserve = reserve_after(table, c.users.size());
  detail::Sim sim(c, policy_);
  for (std::size_t u = 0; u < c.users.size(); ++u) {
    Mib now = sim.mib_of(u);
    if (now >= tier) continue;
    HostIndex h = sim.host_of(u);
    if (policy_.mode == Mode::balloon) {
      // Live, in place, within the ceiling fixed at start, keeping the reserve.
      if (tier <= c.users[u].max_mib && sim.free(h) >= tier - now) {
        auto m = sim.mark();
        sim.resize(u, tier);
        if (!sim.fits_keeping(reserve, 0)) sim.rollback(std::move(m));
      }
      continue;
    }
    auto m = sim.mark();
    auto to = sim.best_host(tier, 0);
    if (!to || !sim.handoff_to(u, *to, tier) || !sim.fits_keeping(reserve, 0)) {
      sim.rollback(std::move(m));
    }
  }
  return Plan{sim.take_steps()};
}

}  // namespace labdesk::alloc
