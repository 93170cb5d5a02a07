// The lab evens itself out (docs/migration.md): once users leave, the others grow back toward
// their tier, live by balloon, or by handoff only while their viewer is away, so that nobody's
// screen is replaced mid-work; and when hosts drift apart in memory or CPU, one desktop at a time
// moves live from the crowded host to the quiet one. Each decision is logged with its reason.
#include <set>

#include "labdesk/allocator/balance.hpp"
#include "labdesk/broker/broker.hpp"

namespace labdesk::broker {

std::string Broker::rebalance() {
  if (!opt_.rebalance.enabled) return "";
  if (auto grown = grow_back(); !grown.empty()) return grown;
  if (opt_.rebalance.quiet_now && opt_.rebalance.quiet_now()) return "";
  return balance_hosts();
}

std::string Broker::grow_back() {
  std::lock_guard serial(plan_mu_);
  wait_for_arrivals();
  auto loads = hosts_.loads();
  alloc::Plan plan;
  std::set<std::string> users;
  {
    std::lock_guard lock(mu_);
    const auto c = cluster_locked(loads);
    plan = planner_.grow(c);
    if (plan.steps.empty()) return "";
    if (opt_.policy.mode == alloc::Mode::handoff) {
      // A handoff replaces the desktop on the user's screen: only users whose viewer is away.
      const auto now = clock_.now();
      std::set<std::string> away;
      for (const auto& [id, s] : sessions_) {
        if (now - s.last_seen >= opt_.rebalance.grow_idle) away.insert(s.user);
      }
      alloc::Plan theirs;
      for (const auto& st : plan.steps) {
        if (away.contains(st.user)) theirs.steps.push_back(st);
      }
      if (theirs.steps.empty() || !planner_.apply(c, theirs)) return "";
      plan = std::move(theirs);
    }
    for (const auto& st : plan.steps) users.insert(st.user);
  }
  Execution how;
  how.event_detail = "your desktop grew back: users left the lab";
  if (auto r = execute(plan, nullptr, nullptr, how); !r) {
    log_->warn("growing users back failed: {}", r.error().message);
    return "";
  }
  std::string who;
  for (const auto& u : users) who += (who.empty() ? "'" : ", '") + u + "'";
  const std::string why = std::string("grew ") + who + " back toward the tier (" +
                          (opt_.policy.mode == alloc::Mode::balloon ? "balloon, live" : "handoff while away") + ")";
  std::lock_guard lock(mu_);
  note_locked("rebalance", "", why);
  return why;
}

std::string Broker::balance_hosts() {
  if (!opt_.shared_data) return "";  // a desktop moves live only where its data is on every host
  auto loads = hosts_.loads();
  std::optional<alloc::Rebalance> pick;
  std::string session;
  {
    std::lock_guard lock(mu_);
    const auto c = cluster_locked(loads);
    std::map<std::string, double> vm_cpu;
    for (const auto& [id, s] : sessions_) {
      const auto& cpu = loads[s.host].desktop_cpu;
      if (auto it = cpu.find(s.desktop); it != cpu.end()) vm_cpu[s.user] = it->second;
    }
    std::set<std::string> pinned;
    for (const auto& [user, at] : balanced_at_) {
      if (clock_.now() - at < opt_.rebalance.cooldown) pinned.insert(user);
    }
    pick = alloc::pick_rebalance(c, opt_.rebalance.balance, vm_cpu, pinned);
    if (!pick) return "";
    const Session* s = by_user_locked(pick->user);
    if (!s || s->desktop.empty()) return "";
    session = s->id;
  }
  auto moved = move_live(session, hosts_.spec(pick->to).name);
  std::lock_guard lock(mu_);
  balanced_at_[pick->user] = clock_.now();  // also after a failure: not retried every round
  if (!moved) {
    note_locked("rebalance", pick->user, "not moved: " + moved.error().message + " (wanted for " + pick->reason + ")");
    return "";
  }
  note_locked("rebalance", pick->user, pick->reason);
  return pick->reason;
}

}  // namespace labdesk::broker
