// A user's data disk is in one desktop at a time: the store's data lease says which desktop may
// have it (claimed before a desktop opens it, released once that desktop is gone), and the
// hand-over plugs it into the user's current desktop once the lease lets it.
#include <cstdio>

#include "labdesk/broker/broker.hpp"

namespace labdesk::broker {

DataLease Broker::lease_for(const std::string& user, std::size_t host, const std::string& desktop) const {
  const std::string& name = hosts_.spec(host).name;
  return {opt_.shared_data ? user : user + "@" + name, name, desktop};
}

bool Broker::claim_for_start(const std::string& user, std::size_t host) {
  if (store_.claim_data(lease_for(user, host, ""))) return true;
  auto held = store_.data_lease(lease_for(user, host, "").disk);
  log_->info("data disk of '{}' is claimed by desktop '{}' on host '{}': the new desktop starts without it",
             user, held ? held->desktop : "", held ? held->host : "");
  return false;
}

void Broker::release_lease(const std::string& user, std::size_t host, const std::string& desktop) {
  store_.release_data(lease_for(user, host, desktop));
}

bool Broker::lease_holder_gone(const DataLease& held) {
  std::size_t h = hosts_.size();
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    if (hosts_.spec(i).name == held.host) h = i;
  }
  // A host no longer configured, or marked down: its desktops are lost to us. If one still runs
  // (a host cut off, not dead), QEMU's lock on the image keeps it from a second writer.
  if (h == hosts_.size() || hosts_.state(h) == HostState::down) return true;
  if (held.desktop.empty()) return false;  // being created: its start finishes or releases it
  auto list = hosts_.agent(h).list();
  if (!list) return false;  // unknown for now: the next sweep asks again
  for (const auto& d : *list) {
    if (d.name == held.desktop) return false;
  }
  return true;
}

void Broker::hand_data_over(const std::string& session) {
  std::size_t host = 0;
  std::string desktop;
  std::string user;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end() || it->second.desktop.empty()) {
      data_waiting_.erase(session);
      return;
    }
    host = it->second.host;
    desktop = it->second.desktop;
    user = it->second.user;
    data_waiting_.try_emplace(session, clock_.now());
  }
  const DataLease mine = lease_for(user, host, desktop);
  if (auto held = store_.data_lease(mine.disk); held && !lease_allows(*held, mine)) {
    if (!lease_holder_gone(*held)) {
      log_->info("data disk of '{}' still claimed by desktop '{}' on host '{}' (retried in the next sweep)", user,
                 held->desktop, held->host);
      return;
    }
    log_->info("data disk of '{}': desktop '{}' on host '{}' is gone, its claim is released", user, held->desktop,
               held->host);
    store_.release_data(*held);
  }
  if (!store_.claim_data(mine)) return;  // claimed by another boot-server meanwhile
  auto r = hosts_.agent(host).attach_data(desktop);
  std::lock_guard lock(mu_);
  if (!r) {
    log_->warn("data disk of '{}' not yet in desktop '{}' (retried in the next sweep): {}", user, desktop, r.error().message);
    return;
  }
  const auto waited = std::chrono::duration<double>(clock_.now() - data_waiting_[session]).count();
  data_waiting_.erase(session);
  char text[160];
  std::snprintf(text, sizeof text, "data disk in desktop '%s' %.1f s after the switch", desktop.c_str(), waited);
  note_locked("data", user, text);
}

void Broker::retry_data_handovers() {
  std::vector<std::string> waiting;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, at] : data_waiting_) waiting.push_back(id);
  }
  for (const auto& id : waiting) hand_data_over(id);
}

void Broker::reconcile_leases(const std::vector<std::optional<std::vector<api::agent::Desktop>>>& running) {
  // After a restart: a claim whose desktop runs nowhere any more (or was never created) is
  // released; a desktop that has its user's disk holds the claim.
  std::vector<Session> kept;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, s] : sessions_) kept.push_back(s);
  }
  for (const auto& held : store_.data_leases()) {
    bool owned = false;
    for (const auto& s : kept) owned = owned || lease_for(s.user, s.host, s.desktop) == held;
    if (!owned) store_.release_data(held);
  }
  for (const auto& s : kept) {
    if (s.host >= running.size() || !running[s.host]) continue;
    for (const auto& d : *running[s.host]) {
      if (d.name == s.desktop && d.data_attached && !store_.claim_data(lease_for(s.user, s.host, s.desktop))) {
        log_->error("desktop '{}' has the data disk of '{}' that another desktop claims", d.name, s.user);
      }
    }
  }
}

}  // namespace labdesk::broker
