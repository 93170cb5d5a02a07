// Executes a plan on a value, checking each step the way the boot-server's executor must.
#include <algorithm>
#include <map>

#include "labdesk/allocator/planner.hpp"

namespace labdesk::alloc {
namespace {

struct Slot {
  HostIndex host = 0;
  Mib mib = 0;
  Mib max_mib = 0;
};

struct UserVms {
  std::optional<Slot> live;
  std::optional<Slot> pending;  // started, not yet switched to
  std::optional<Slot> retired;  // switched away from, not yet destroyed
};

}  // namespace

std::expected<Cluster, std::string> Planner::apply(Cluster c, const Plan& plan) const {
  if (plan.rejected()) return c;
  std::vector<Mib> used(c.hosts.size(), 0);
  for (const auto& vm : c.users) used[vm.host] += vm.mib;
  // Only the users a plan touches are tracked; a plan touches a handful of thousands.
  std::map<std::string, UserVms> vms;
  std::map<std::string, std::optional<std::size_t>> index;  // position in c.users, if connected
  std::vector<std::string> arrivals;
  auto track = [&](const std::string& user) -> UserVms& {
    auto [it, fresh] = vms.try_emplace(user);
    if (fresh) {
      auto pos = std::find_if(c.users.begin(), c.users.end(),
                              [&](const Vm& vm) { return vm.user == user; });
      if (pos != c.users.end()) {
        it->second.live = Slot{pos->host, pos->mib, pos->max_mib};
        index[user] = static_cast<std::size_t>(pos - c.users.begin());
      } else {
        index[user] = std::nullopt;
        arrivals.push_back(user);
      }
    }
    return it->second;
  };
  auto fail = [](std::size_t i, const Step& s, const std::string& why) {
    return std::unexpected("step " + std::to_string(i) + " (" + to_string(s.op) + " '" + s.user +
                           "'): " + why);
  };
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    if (s.op == Op::reject) return fail(i, s, "a reject step must be the plan's only step");
    if (!s.host || *s.host >= c.hosts.size()) return fail(i, s, "names no valid host");
    HostIndex h = *s.host;
    auto& u = track(s.user);
    auto over = [&](Mib extra) { return used[h] + extra > c.hosts[h].usable(); };
    switch (s.op) {
      case Op::start:
        if (u.pending) return fail(i, s, "user already has a VM starting");
        if (over(s.mib)) return fail(i, s, "host " + std::to_string(h) + " would be over capacity");
        u.pending = Slot{h, s.mib, s.max_mib ? s.max_mib : s.mib};
        used[h] += s.mib;
        break;
      case Op::switch_to:
        if (!u.pending || u.pending->host != h) return fail(i, s, "no VM started on that host");
        if (u.retired) return fail(i, s, "previous VM not destroyed yet");
        u.retired = u.live;
        u.live = u.pending;
        u.pending.reset();
        break;
      case Op::destroy: {
        auto& victim = u.retired ? u.retired : u.live;
        if (!victim || victim->host != h) return fail(i, s, "no VM of this user on that host");
        used[h] -= victim->mib;
        victim.reset();
        break;
      }
      case Op::resize:
        if (!u.live || u.live->host != h) return fail(i, s, "no live VM on that host");
        if (s.mib > u.live->max_mib) return fail(i, s, "above the VM's maximum memory");
        if (over(s.mib - u.live->mib)) return fail(i, s, "host would be over capacity");
        used[h] += s.mib - u.live->mib;
        u.live->mib = s.mib;
        break;
      case Op::reject: break;
    }
  }
  std::vector<std::size_t> gone;
  for (const auto& [name, u] : vms) {
    if (u.pending || u.retired) return std::unexpected("plan leaves user '" + name + "' mid-handoff");
    auto at = index[name];
    if (at && u.live) {
      c.users[*at] = Vm{name, u.live->host, u.live->mib, u.live->max_mib};
    } else if (at) {
      gone.push_back(*at);
    }
  }
  std::sort(gone.rbegin(), gone.rend());
  for (std::size_t at : gone) c.users.erase(c.users.begin() + static_cast<std::ptrdiff_t>(at));
  for (const auto& name : arrivals) {
    const auto& u = vms[name];
    if (u.live) c.users.push_back(Vm{name, u.live->host, u.live->mib, u.live->max_mib});
  }
  return c;
}

}  // namespace labdesk::alloc
