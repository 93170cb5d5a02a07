// Hosts that die and come back: a host marked down has its users re-placed on the hosts that
// answer (the allocator's arrival rules, so tiers shrink others where needed), and a host that
// answers again is reconciled before it takes new desktops: what it still runs that no session
// owns is destroyed.
#include <algorithm>

#include "labdesk/broker/broker.hpp"

namespace labdesk::broker {

void Broker::watch_hosts() {
  auto loads = hosts_.loads();
  std::vector<std::size_t> down;
  std::vector<std::size_t> back;
  {
    std::lock_guard lock(mu_);
    seen_states_.resize(hosts_.size(), HostState::up);
    for (std::size_t h = 0; h < hosts_.size(); ++h) {
      if (loads[h].state == HostState::down) down.push_back(h);
      if (loads[h].state == HostState::up && seen_states_[h] == HostState::down) back.push_back(h);
      seen_states_[h] = loads[h].state;
    }
  }
  for (auto h : down) fail_over(h);
  for (auto h : back) rejoin(h);
}

void Broker::fail_over(std::size_t host) {
  std::lock_guard serial(plan_mu_);
  wait_for_arrivals();
  const std::string name = hosts_.spec(host).name;
  // The plan lock may have been held for long (a live migration keeps the hosts' agents busy): a
  // host that answers now was slow, not dead, and its users keep their desktops.
  if (hosts_.agent(host).load()) {
    hosts_.report_success(host);
    log_->info("host '{}' answers again before its users were re-placed: nothing moves", name);
    return;
  }
  std::vector<std::string> orphans;  // users, in login order
  {
    std::lock_guard lock(mu_);
    std::vector<const Session*> on_host;
    for (const auto& [id, s] : sessions_) {
      if (s.host == host) on_host.push_back(&s);
    }
    std::sort(on_host.begin(), on_host.end(), [](const Session* a, const Session* b) { return a->order < b->order; });
    for (const Session* s : on_host) orphans.push_back(s->user);
    // Their viewers show this over the last picture until the new desktop is there.
    for (auto& [id, s] : sessions_) {
      if (s.host == host) {
        push_event_locked(s, SessionEvent{0, "notice", std::nullopt, "",
                                          "The computer running your desktop stopped answering. A new desktop is "
                                          "starting for you"});
      }
    }
  }
  if (orphans.empty()) return;
  log_->warn("host '{}' is down: re-placing {} desktop(s) on the hosts that answer", name, orphans.size());
  const std::string why = "the host of your desktop stopped answering: this is a new desktop" +
                          std::string(opt_.shared_data ? "; your files follow in a few seconds" : "");
  while (!orphans.empty()) {
    const std::string user = orphans.front();
    orphans.erase(orphans.begin());
    const auto t0 = clock_.now();
    auto loads = hosts_.loads();
    alloc::Plan plan;
    std::string session;
    {
      std::lock_guard lock(mu_);
      Session* s = by_user_locked(user);
      if (!s || s->host != host) continue;  // ended meanwhile
      session = s->id;
      s->desktop.clear();  // gone with its host: nothing to stop, no disk to hand over
      alloc::Cluster c = cluster_locked(loads);
      // The dead host's users are not placed anywhere until their turn.
      std::erase_if(c.users, [&](const alloc::Vm& v) { return v.user == user || std::count(orphans.begin(), orphans.end(), v.user) > 0; });
      auto p = planner_.arrive(c, user);
      if (p) plan = std::move(*p);
    }
    Execution how;
    how.event_detail = why;
    // With one data area the dead host's QEMU may still hold the disk's lock (a host cut off,
    // not dead; NFS frees a dead client's locks after its lease): the disk follows when it can.
    if (opt_.shared_data) how.data_later.insert(user);
    Result<void> r = plan.steps.empty() || plan.rejected()
                         ? fail("no_capacity", plan.steps.empty() ? "no plan" : plan.steps.back().reason, 503)
                         : execute(plan, nullptr, nullptr, how);
    if (!r) {
      (void)end_serialized(session, "the host of your desktop stopped answering and no other host could take you now (" +
                                        r.error().message + "): log in again in a few minutes");
      continue;
    }
    std::lock_guard lock(mu_);
    ++metrics_.failovers;
    if (Session* s = by_user_locked(user)) {
      const auto took = std::chrono::duration<double>(clock_.now() - t0).count();
      char text[192];
      std::snprintf(text, sizeof text, "host '%s' down: new desktop on host '%s' after %.1f s", name.c_str(),
                    hosts_.spec(s->host).name.c_str(), took);
      note_locked("failover", user, text);
    }
  }
  retry_data_handovers();  // at once, if the dead host let go of the disks
}

void Broker::rejoin(std::size_t host) {
  std::lock_guard serial(plan_mu_);
  auto list = hosts_.agent(host).list();
  if (!list) return;  // down again: the next watch sees it
  std::vector<std::string> stale;
  {
    std::lock_guard lock(mu_);
    for (const auto& d : *list) {
      bool owned = false;
      for (const auto& [id, s] : sessions_) owned = owned || (s.host == host && s.desktop == d.name);
      if (!owned) stale.push_back(d.name);
    }
    note_locked("host", "", "host '" + hosts_.spec(host).name + "' answers again: " + std::to_string(stale.size()) +
                                " stale desktop(s) destroyed");
  }
  log_->info("host '{}' answers again: destroying {} desktop(s) no session owns", hosts_.spec(host).name, stale.size());
  for (const auto& d : stale) {
    if (auto r = hosts_.agent(host).destroy(d); !r) {
      log_->warn("destroying stale '{}' failed: {}", d, r.error().message);
      continue;
    }
    for (const auto& held : store_.data_leases()) {
      if (held.host == hosts_.spec(host).name && held.desktop == d) store_.release_data(held);
    }
  }
  retry_data_handovers();  // the disks the stale desktops held can follow their users now
}

}  // namespace labdesk::broker
