// A running desktop moves to another host by live migration (docs/migration.md): the guest keeps
// running, its programs, uptime and connections; the user's viewer follows to the new host. The
// planner checks the move as it checks a handoff (the destination holds the desktop's memory
// while the source still does), so no host is ever over capacity.
#include <algorithm>
#include <chrono>
#include <future>

#include "labdesk/broker/broker.hpp"

namespace labdesk::broker {

void Broker::tell(const std::string& session, std::string type, std::string reason) {
  std::lock_guard lock(mu_);
  if (auto it = sessions_.find(session); it != sessions_.end()) {
    push_event_locked(it->second, SessionEvent{0, std::move(type), std::nullopt, "", std::move(reason)});
  }
}

Result<LiveMove> Broker::move_live(const std::string& session, const std::string& host) {
  const auto started = std::chrono::steady_clock::now();
  std::lock_guard serial(plan_mu_);
  wait_for_arrivals();
  const auto found = host_index(host);
  if (!found) return fail("not_found", "no host '" + host + "'", 404);
  const std::size_t to = *found;
  if (!opt_.shared_data) {
    return fail("needs_shared_data", "a desktop moves while it runs only where every host reaches the users' data: set "
                                     "desktops.data = \"shared\" (docs/data.md), or move it with a handoff (live = false)", 409);
  }
  auto loads = hosts_.loads();
  Session s;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return fail("not_found", "no session '" + session + "'", 404);
    s = it->second;
    if (drained_.contains(to)) return fail("drained", "host '" + host + "' is drained for maintenance: undrain it first", 409);
    if (s.desktop.empty()) return fail("busy", "session '" + session + "' has no desktop running: nothing to move", 409);
    if (data_waiting_.contains(session)) {
      return fail("busy", "the desktop of session '" + session + "' still waits for its data disk: move it once it has it", 409);
    }
    // Checked as a handoff: the destination holds the desktop's memory while the source still does.
    if (auto plan = move_plan_locked(s, to, loads); !plan) return std::unexpected(plan.error());
  }
  const std::string from_name = hosts_.spec(s.host).name;
  // Every desktop starts from the lab's image (one catalog entry per lab until #18's catalog).
  auto target = hosts_.agent(to).prepare_incoming({s.desktop, opt_.image});
  if (!target) {
    return fail(target.error().code, "host '" + host + "' cannot take desktop '" + s.desktop + "': " + target.error().message,
                target.error().status);
  }
  tell(session, "moving", "your desktop is moving to another host while it runs");
  // The source's call returns only after its libvirt has stopped the old QEMU, a second or more
  // after the guest runs on the destination: the destination is asked meanwhile, and the viewer
  // follows as soon as the guest runs there.
  auto migration = std::async(std::launch::async, [&] { return hosts_.agent(s.host).migrate(s.desktop, *target); });
  std::optional<Result<api::agent::Arrival>> early;
  while (migration.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    auto r = hosts_.agent(to).finish_incoming(s.desktop, std::chrono::milliseconds(500));
    if (r || r.error().code != "not_arrived") {
      early = std::move(r);
      break;
    }
  }
  const bool taken_on = early && early->has_value();
  if (taken_on) switch_live(s, to, **early, from_name, host);
  auto moved = migration.get();
  if (!moved && !taken_on) {
    (void)hosts_.agent(to).finish_incoming(s.desktop);  // its prepared overlay goes
    tell(session, "stayed", "your desktop stays where it was");
    return fail("migration_failed", "desktop '" + s.desktop + "' stays on host '" + from_name + "': " + moved.error().message,
                moved.error().status >= 500 ? 502 : moved.error().status);
  }
  if (!moved) {
    log_->warn("desktop '{}' runs on host '{}' although host '{}' reported: {}", s.desktop, host, from_name, moved.error().message);
  }
  // Taken on early: now the figures libvirt has once done; otherwise taken on now.
  auto arrived = hosts_.agent(to).finish_incoming(s.desktop);
  if (!arrived) {
    // It left the source; where it runs now is for the reconciliation to find out.
    log_->error("desktop '{}' left host '{}' but host '{}' did not take it on: {}", s.desktop, from_name, host,
                arrived.error().message);
    return fail("migration_failed", "desktop '" + s.desktop + "' moved but host '" + host + "' did not confirm it: " +
                                        arrived.error().message, 502);
  }
  if (!taken_on) switch_live(s, to, *arrived, from_name, host);
  LiveMove out{session, from_name, host, s.desktop, arrived->downtime_ms, 0};
  // The data disk went along (shared storage): its lease names the new host.
  release_lease(s.user, s.host, s.desktop);
  if (!store_.claim_data(lease_for(s.user, to, s.desktop))) {
    log_->error("data lease of '{}' could not follow desktop '{}' to host '{}'", s.user, s.desktop, host);
  }
  {
    std::lock_guard lock(mu_);
    ++metrics_.migrations;
    note_locked("migrated", s.user, "desktop '" + s.desktop + "' from host '" + from_name + "' to '" + host +
                                        "' while running (downtime " + std::to_string(out.downtime_ms) + " ms)");
  }
  out.total_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  log_->info("desktop '{}' of '{}' moved live from '{}' to '{}' in {} ms (downtime {} ms)", s.desktop, s.user, from_name,
             host, out.total_ms, out.downtime_ms);
  return out;
}

// The session, its forward and its viewer go to the desktop on host `to`. The viewer is told
// last, with the forward already switched (told earlier, its connection would reach the old host
// and fail into a backoff): every millisecond here is frozen picture.
void Broker::switch_live(const Session& s, std::size_t to, const api::agent::Arrival& arrived, const std::string& from_name,
                         const std::string& host) {
  Forward f;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(s.id);
    if (it == sessions_.end()) return;  // ended meanwhile: the reconciliation destroys the VM
    Session& x = it->second;
    x.host = to;
    x.vnc = {arrived.desktop.vnc.host, arrived.desktop.vnc.port};
    x.vnc_password = arrived.desktop.vnc.password;
    f = Forward{x.lab_port, x.client_ip, x.vnc.host, x.vnc.port};
  }
  if (auto r = forwards_.upsert(f); !r) log_->error("forward for port {} failed: {}", f.lab_port, r.error().message);
  std::lock_guard lock(mu_);
  auto it = sessions_.find(s.id);
  if (it == sessions_.end()) return;
  Session& x = it->second;
  push_event_locked(x, SessionEvent{0, "moved", Endpoint{opt_.lab_address, x.lab_port}, x.vnc_password,
                                    "your desktop moved to another host while it ran: nothing was closed"});
  store_.save(x);
  switched_at_[x.id] = clock_.now();
  log_->info("desktop '{}' of '{}' runs on '{}' (from '{}'): viewer switched", x.desktop, x.user, host, from_name);
}

std::optional<std::size_t> Broker::host_index(const std::string& name) const {
  for (std::size_t h = 0; h < hosts_.size(); ++h) {
    if (hosts_.spec(h).name == name) return h;
  }
  return std::nullopt;
}

bool Broker::drained(std::size_t host) const {
  std::lock_guard lock(mu_);
  return drained_.contains(host);
}

std::vector<std::size_t> Broker::destinations(std::size_t from) {
  auto loads = hosts_.loads();
  std::vector<std::pair<std::int64_t, std::size_t>> free;
  {
    std::lock_guard lock(mu_);
    const auto c = cluster_locked(loads);
    std::vector<std::int64_t> used(c.hosts.size(), 0);
    for (const auto& vm : c.users) used[vm.host] += vm.mib;
    for (std::size_t h = 0; h < c.hosts.size(); ++h) {
      // A desktop moves live only between hosts with the same accelerator (KVM to TCG fails).
      bool same_accel = loads[h].accel.empty() || loads[from].accel.empty() || loads[h].accel == loads[from].accel;
      if (h != from && same_accel && c.hosts[h].usable() - used[h] > 0) free.push_back({c.hosts[h].usable() - used[h], h});
    }
  }
  std::sort(free.begin(), free.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::size_t> out;
  for (const auto& [mib, h] : free) out.push_back(h);
  return out;
}

Result<DrainReport> Broker::drain(const std::string& host) {
  auto h = host_index(host);
  if (!h) return fail("not_found", "no host '" + host + "'", 404);
  store_.set_drained(host, true);
  std::vector<std::string> on_host;
  {
    std::lock_guard lock(mu_);
    if (drained_.insert(*h).second) note_locked("drain", "", "host '" + host + "' takes no new desktops (maintenance)");
    for (const auto& [id, s] : sessions_) {
      if (s.host == *h) on_host.push_back(id);
    }
  }
  DrainReport report{host, {}, {}};
  for (const auto& id : on_host) {
    std::string why = "no other host that runs desktops the same way (accel) has room";
    bool moved = false;
    for (std::size_t to : destinations(*h)) {
      auto r = move_live(id, hosts_.spec(to).name);
      if (r) {
        report.moved.push_back(*r);
        moved = true;
        break;
      }
      why = r.error().message;
      if (r.error().code != "no_capacity") break;  // another host would not fix it
    }
    if (!moved) report.failed.emplace_back(id, why);
  }
  log_->info("host '{}' drained: {} desktop(s) moved, {} still there", host, report.moved.size(), report.failed.size());
  return report;
}

Result<void> Broker::undrain(const std::string& host) {
  auto h = host_index(host);
  if (!h) return fail("not_found", "no host '" + host + "'", 404);
  store_.set_drained(host, false);
  std::lock_guard lock(mu_);
  if (drained_.erase(*h) > 0) note_locked("undrain", "", "host '" + host + "' takes new desktops again");
  return {};
}

}  // namespace labdesk::broker
