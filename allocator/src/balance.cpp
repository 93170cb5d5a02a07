#include "labdesk/allocator/balance.hpp"

#include <cmath>
#include <cstdio>
#include <vector>

namespace labdesk::alloc {
namespace {

std::string pct(double v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", v * 100);
  return buf;
}

struct Loads {
  std::vector<Mib> used;
  std::vector<HostIndex> eligible;
};

Loads loads_of(const Cluster& c) {
  Loads l{std::vector<Mib>(c.hosts.size(), 0), {}};
  for (const auto& vm : c.users) {
    if (vm.host < c.hosts.size()) l.used[vm.host] += vm.mib;
  }
  for (HostIndex h = 0; h < c.hosts.size(); ++h) {
    if (c.hosts[h].usable() > 0) l.eligible.push_back(h);
  }
  return l;
}

double share(Mib used, const Host& h) { return static_cast<double>(used) / static_cast<double>(h.usable()); }

std::optional<Rebalance> by_memory(const Cluster& c, const BalancePolicy& p, const Loads& l,
                                   const std::set<std::string>& pinned) {
  HostIndex hi = l.eligible.front();
  HostIndex lo = hi;
  for (HostIndex h : l.eligible) {
    if (share(l.used[h], c.hosts[h]) > share(l.used[hi], c.hosts[hi])) hi = h;
    if (share(l.used[h], c.hosts[h]) < share(l.used[lo], c.hosts[lo])) lo = h;
  }
  const double gap = share(l.used[hi], c.hosts[hi]) - share(l.used[lo], c.hosts[lo]);
  if (gap <= p.memory_spread) return std::nullopt;
  std::optional<Rebalance> best;
  double best_gap = gap;
  for (const auto& vm : c.users) {  // later connections win ties: the oldest users stay put
    if (vm.host != hi || pinned.contains(vm.user) || l.used[lo] + vm.mib > c.hosts[lo].usable()) continue;
    const double after = std::fabs(share(l.used[hi] - vm.mib, c.hosts[hi]) - share(l.used[lo] + vm.mib, c.hosts[lo]));
    if (after <= best_gap) {
      best_gap = after;
      best = Rebalance{vm.user, hi, lo,
                       "memory: host '" + c.hosts[hi].id + "' holds " + pct(share(l.used[hi], c.hosts[hi])) + ", host '" +
                           c.hosts[lo].id + "' " + pct(share(l.used[lo], c.hosts[lo])) + " (spread above " +
                           pct(p.memory_spread) + "); moving " + std::to_string(vm.mib) + " MiB of '" + vm.user + "'"};
    }
  }
  if (best && best_gap >= gap) best.reset();  // no move narrows it
  return best;
}

std::optional<Rebalance> by_cpu(const Cluster& c, const BalancePolicy& p, const Loads& l,
                                const std::map<std::string, double>& vm_cpu, const std::set<std::string>& pinned) {
  HostIndex hi = l.eligible.front();
  HostIndex lo = hi;
  for (HostIndex h : l.eligible) {
    if (c.hosts[h].cpu > c.hosts[hi].cpu) hi = h;
    if (c.hosts[h].cpu < c.hosts[lo].cpu) lo = h;
  }
  const double gap = c.hosts[hi].cpu - c.hosts[lo].cpu;
  if (gap <= p.cpu_spread) return std::nullopt;
  std::optional<Rebalance> best;
  double best_cpu = 0;
  for (const auto& vm : c.users) {
    auto it = vm_cpu.find(vm.user);
    const double v = it == vm_cpu.end() ? 0 : it->second;
    if (vm.host != hi || pinned.contains(vm.user) || v <= 0 || v >= gap || v <= best_cpu) continue;  // v >= gap: the gap would only flip
    if (l.used[lo] + vm.mib > c.hosts[lo].usable()) continue;
    // Never trade a CPU gap for a memory gap the memory rule would move back.
    const double mem_after = share(l.used[lo] + vm.mib, c.hosts[lo]) - share(l.used[hi] - vm.mib, c.hosts[hi]);
    if (mem_after > p.memory_spread) continue;
    best_cpu = v;
    best = Rebalance{vm.user, hi, lo,
                     "CPU: host '" + c.hosts[hi].id + "' at " + pct(c.hosts[hi].cpu) + ", host '" + c.hosts[lo].id + "' at " +
                         pct(c.hosts[lo].cpu) + " (spread above " + pct(p.cpu_spread) + "); moving '" + vm.user +
                         "', whose desktop uses " + pct(v)};
  }
  return best;
}

}  // namespace

std::optional<Rebalance> pick_rebalance(const Cluster& c, const BalancePolicy& p,
                                        const std::map<std::string, double>& vm_cpu,
                                        const std::set<std::string>& pinned) {
  const Loads l = loads_of(c);
  if (l.eligible.size() < 2) return std::nullopt;
  if (auto m = by_memory(c, p, l, pinned)) return m;
  return by_cpu(c, p, l, vm_cpu, pinned);
}

}  // namespace labdesk::alloc
