// Plan execution (hard handoffs that switch the forward and tell the viewer, stop-first where
// the replacement needs the data disk the old desktop holds, balloon resizes), admin grow and
// move, agent events, and reconciliation.
#include <algorithm>
#include <set>
#include <thread>

#include "labdesk/broker/broker.hpp"

namespace labdesk::broker {

std::set<std::string> data_handovers(const alloc::Plan& plan, const std::map<std::string, std::size_t>& live,
                                     bool shared_data) {
  std::set<std::string> out;
  const auto& st = plan.steps;
  for (std::size_t i = 0; i < st.size(); ++i) {
    if (st[i].op != alloc::Op::start || !st[i].host) continue;
    auto it = live.find(st[i].user);
    if (it == live.end() || (!shared_data && it->second != *st[i].host)) continue;
    for (std::size_t j = i + 1; j < st.size(); ++j) {
      if (st[j].op == alloc::Op::destroy && st[j].user == st[i].user && st[j].host == it->second) out.insert(st[i].user);
    }
  }
  return out;
}

Result<void> Broker::execute(const alloc::Plan& plan, const Login* newcomer, LoginResult* out, const Execution& how) {
  std::map<std::string, std::size_t> live;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, x] : sessions_) {
      if (!x.desktop.empty()) live[x.user] = x.host;
    }
  }
  const std::set<std::string> handovers = data_handovers(plan, live, opt_.shared_data);
  auto later = [&](const std::string& user) { return handovers.contains(user) || how.data_later.contains(user); };
  // Only a cold handoff leaves a session without a desktop for a while (and holds plan_mu_).
  const bool stop_first = std::any_of(plan.steps.begin(), plan.steps.end(),
                                      [](const alloc::Step& x) { return x.op == alloc::Op::destroy; });
  std::map<std::string, Pending> pending;
  std::map<std::string, Pending> retired;
  for (const auto& s : plan.steps) {
    switch (s.op) {
      case alloc::Op::start:
        if (auto r = start_step(s, out ? out->session : std::string(), later(s.user), pending); !r) {
          for (auto& [u, p] : pending) {
            if (hosts_.agent(p.host).destroy(p.desktop.name)) release_lease(u, p.host, p.desktop.name);
          }
          if (stop_first) end_desktopless_locked_plan();
          return r;
        }
        break;
      case alloc::Op::switch_to:
        switch_step(s, newcomer, pending, retired, out, how.event_detail);
        break;
      case alloc::Op::destroy: {
        const bool handing_over = handovers.contains(s.user) && retired.contains(s.user);
        (void)destroy_step(s, retired);
        if (handing_over) {
          std::string id;
          {
            std::lock_guard lock(mu_);
            if (Session* x = by_user_locked(s.user)) id = x->id;
          }
          if (!id.empty()) hand_data_over(id);
        }
        break;
      }
      case alloc::Op::resize: {
        std::string desktop;
        {
          std::lock_guard lock(mu_);
          if (Session* x = by_user_locked(s.user)) desktop = x->desktop;
        }
        auto r = hosts_.agent(*s.host).resize(desktop, s.mib);
        if (!r) {
          log_->warn("balloon resize of '{}' to {} MiB failed: {}", desktop, s.mib, r.error().message);
          break;
        }
        std::lock_guard lock(mu_);
        if (Session* x = by_user_locked(s.user)) {
          x->mib = s.mib;
          store_.save(*x);
        }
        break;
      }
      case alloc::Op::reject:
        return fail("no_capacity", s.reason, 503);
    }
  }
  return {};
}

void Broker::end_desktopless_locked_plan() {
  // A stop-first handoff destroyed a user's desktop and its replacement did not start: the
  // session has nothing left to show; end it (the viewer is told) rather than leave it dangling.
  std::vector<std::string> gone;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, x] : sessions_) {
      if (x.desktop.empty()) gone.push_back(id);
    }
  }
  for (const auto& id : gone) (void)end_serialized(id, "your desktop could not be restarted at its new size: log in again");
}

Result<void> Broker::start_step(const alloc::Step& s, const std::string& new_session, bool data_later,
                                std::map<std::string, Pending>& pending) {
  std::size_t h = *s.host;
  api::agent::CreateDesktop spec;
  spec.user = s.user;
  spec.image = opt_.image;
  spec.memory_mib = s.mib;
  spec.max_memory_mib = s.max_mib ? s.max_mib : s.mib;
  const auto& tiers = opt_.policy.tiers;
  spec.tier = static_cast<int>(std::find(tiers.begin(), tiers.end(), s.mib) - tiers.begin());
  // The disk opens at the start only if the store's lease lets this desktop have it.
  const bool claimed = !data_later && claim_for_start(s.user, h);
  spec.data_later = !claimed;
  {
    std::lock_guard lock(mu_);
    Session* existing = by_user_locked(s.user);
    spec.session = existing ? existing->id : new_session;
  }
  auto d = hosts_.agent(h).create(spec);
  if (d && claimed) store_.claim_data(lease_for(s.user, h, d->name));  // the claim gets its desktop's name
  if (!d) {
    if (claimed) release_lease(s.user, h, "");
    hosts_.report_failure(h);
    return fail("agent_failed", "host '" + hosts_.spec(h).name + "' could not start a desktop for '" +
                                    s.user + "': " + d.error().message, 502);
  }
  hosts_.report_success(h);
  // A zero timeout: the admin chose not to wait (agents on test:///default have no VNC server).
  if (opt_.vnc_ready_timeout.count() > 0) {
    const auto deadline = std::chrono::steady_clock::now() + opt_.vnc_ready_timeout;
    const char* late = nullptr;
    if (!probe_.wait_ready(d->vnc.host, d->vnc.port, opt_.vnc_ready_timeout)) late = "did not answer on VNC";
    else if (!d->ready && !guest_ready(h, d->name, deadline)) late = "did not finish booting (its image's ready_line)";
    if (late) {
      if (hosts_.agent(h).destroy(d->name)) release_lease(s.user, h, d->name);
      return fail("desktop_not_ready", "desktop '" + d->name + "' on host '" + hosts_.spec(h).name + "' " + late +
                                           " in time", 504);
    }
  }
  pending[s.user] = Pending{h, *d};
  return {};
}

bool Broker::guest_ready(std::size_t host, const std::string& desktop, std::chrono::steady_clock::time_point deadline) {
  // QEMU's VNC server answers at once; the guest draws its desktop seconds later. A user is
  // switched only to a drawn desktop, so what their viewer shows next is the desktop itself.
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto list = hosts_.agent(host).list()) {
      for (const auto& d : *list) {
        if (d.name == desktop && d.ready) return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

void Broker::switch_step(const alloc::Step& s, const Login* newcomer,
                         std::map<std::string, Pending>& pending,
                         std::map<std::string, Pending>& retired, LoginResult* out, const std::string& detail) {
  Pending p = pending.at(s.user);
  pending.erase(s.user);
  Forward f;
  {
    std::lock_guard lock(mu_);
    Session* sess = by_user_locked(s.user);
    bool fresh = sess == nullptr;
    if (fresh) {
      Session n;
      n.id = out->session;
      n.token = out->token;
      n.user = s.user;
      n.client_id = newcomer->client_id;
      n.client_ip = newcomer->client_ip;
      if (auto a = arriving_.find(s.user); a != arriving_.end()) {
        n.order = a->second.order;
        n.lab_port = a->second.lab_port;
        arriving_.erase(a);  // counted as a session from here on
      } else {
        n.order = next_order_++;
        n.lab_port = take_port_locked().value_or(0);
      }
      sess = &sessions_.emplace(n.id, n).first->second;
    } else if (!sess->desktop.empty()) {
      api::agent::Desktop old;
      old.name = sess->desktop;
      retired[s.user] = Pending{sess->host, old};
    }
    sess->host = p.host;
    sess->desktop = p.desktop.name;
    sess->mib = p.desktop.memory_mib ? p.desktop.memory_mib : s.mib;
    sess->max_mib = p.desktop.max_memory_mib ? p.desktop.max_memory_mib : sess->mib;
    sess->tier = p.desktop.tier;
    sess->vnc = {p.desktop.vnc.host, p.desktop.vnc.port};
    sess->vnc_password = p.desktop.vnc.password;
    sess->last_seen = clock_.now();
    if (!p.desktop.data_attached) data_waiting_[sess->id] = clock_.now();
    store_.save(*sess);
    f = Forward{sess->lab_port, sess->client_ip, sess->vnc.host, sess->vnc.port};
    if (fresh) {
      out->endpoint = {opt_.lab_address, sess->lab_port};
      out->vnc_password = sess->vnc_password;
      out->tier_mib = sess->mib;
    } else {
      push_event_locked(*sess, SessionEvent{0, "moved", Endpoint{opt_.lab_address, sess->lab_port},
                                            sess->vnc_password,
                                            detail.empty() ? "memory now " + std::to_string(sess->mib) + " MiB" : detail});
      switched_at_[sess->id] = clock_.now();
      ++metrics_.handoffs;
      note_locked("handoff", sess->user, "now " + std::to_string(sess->mib) + " MiB on host '" +
                                             hosts_.spec(sess->host).name + "'");
    }
  }
  if (auto r = forwards_.upsert(f); !r) log_->error("forward for port {} failed: {}", f.lab_port, r.error().message);
}

Result<void> Broker::destroy_step(const alloc::Step& s, std::map<std::string, Pending>& retired) {
  std::string desktop;
  if (auto it = retired.find(s.user); it != retired.end() && it->second.host == *s.host) {
    desktop = it->second.desktop.name;
    retired.erase(it);
  } else {
    // The stop-first handoff: the live desktop goes before its replacement starts.
    std::lock_guard lock(mu_);
    if (Session* x = by_user_locked(s.user)) {
      desktop = x->desktop;
      x->desktop.clear();
    }
  }
  auto r = hosts_.agent(*s.host).destroy(desktop);
  if (!r) log_->warn("destroying '{}' on host '{}' failed: {}", desktop, hosts_.spec(*s.host).name, r.error().message);
  else release_lease(s.user, *s.host, desktop);
  return r;
}

Result<void> Broker::grow() {
  std::lock_guard serial(plan_mu_);
  wait_for_arrivals();
  auto loads = hosts_.loads();
  alloc::Plan plan;
  {
    std::lock_guard lock(mu_);
    plan = planner_.grow(cluster_locked(loads));
  }
  return execute(plan, nullptr, nullptr);
}

Result<void> Broker::move(const std::string& session, const std::string& host) {
  std::lock_guard serial(plan_mu_);
  wait_for_arrivals();
  const auto found = host_index(host);
  if (!found) return fail("not_found", "no host '" + host + "'", 404);
  const std::size_t to = *found;
  auto loads = hosts_.loads();
  alloc::Plan plan;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return fail("not_found", "no session '" + session + "'", 404);
    auto p = move_plan_locked(it->second, to, loads);
    if (!p) return std::unexpected(p.error());
    plan = std::move(*p);
  }
  return execute(plan, nullptr, nullptr);
}

Result<alloc::Plan> Broker::move_plan_locked(const Session& s, std::size_t to, const std::vector<HostLoad>& loads) const {
  const std::string& host = hosts_.spec(to).name;
  if (s.host == to) return fail("bad_request", "session '" + s.id + "' already runs on '" + host + "'", 409);
  alloc::Plan plan;
  plan.steps = {{alloc::Op::start, s.user, to, s.mib, s.max_mib, {}},
                {alloc::Op::switch_to, s.user, to, s.mib, 0, {}},
                {alloc::Op::destroy, s.user, s.host, s.mib, 0, {}}};
  // The allocator's own executor check: refuses a move that would overcommit the target.
  if (auto ok = planner_.apply(cluster_locked(loads), plan); !ok) {
    return fail("no_capacity", "host '" + host + "' has no room for " + std::to_string(s.mib) + " MiB", 409);
  }
  return plan;
}

void Broker::desktop_event(std::size_t host, const api::agent::Event& e) {
  if (e.type != "restarted" && e.type != "stopped" && e.type != "crashed") return;
  std::lock_guard serial(plan_mu_);
  std::string session;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, s] : sessions_) {
      if (s.host == host && s.desktop == e.desktop) session = id;
    }
  }
  if (session.empty()) return;  // a retired VM or one we never owned
  auto list = hosts_.agent(host).list();
  if (!list) return;  // the next event or reconciliation will catch up
  const api::agent::Desktop* live = nullptr;
  for (const auto& d : *list) {
    if (d.name == e.desktop && d.state == "running") live = &d;
  }
  Forward f;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return;
    if (!live) {
      if (e.type != "stopped") return;  // crashed: the agent's restart policy may still bring it back
    } else {
      Session& s = it->second;
      // The list never carries a console password; a restart's event does (a new VM, a new one).
      const bool new_password = e.type == "restarted" && !e.vnc.password.empty() && e.vnc.port == live->vnc.port;
      if (live->vnc.port == s.vnc.port && live->vnc.host == s.vnc.host && !new_password) return;
      s.vnc = {live->vnc.host, live->vnc.port};
      if (new_password) s.vnc_password = e.vnc.password;
      store_.save(s);
      f = Forward{s.lab_port, s.client_ip, s.vnc.host, s.vnc.port};
      push_event_locked(s, SessionEvent{0, "moved", Endpoint{opt_.lab_address, s.lab_port}, s.vnc_password,
                                        "your desktop restarted after a fault; your files are kept"});
      note_locked("restarted", s.user, "desktop '" + s.desktop + "' restarted by its agent");
    }
  }
  if (!live) {
    (void)end_serialized(session, "your desktop stopped and could not be restarted");
    return;
  }
  if (auto r = forwards_.upsert(f); !r) log_->error("forward for port {} failed: {}", f.lab_port, r.error().message);
}

Result<void> Broker::reconcile() {
  std::lock_guard serial(plan_mu_);
  wait_for_arrivals();
  auto stored = store_.load_all();
  std::vector<std::optional<std::vector<api::agent::Desktop>>> running(hosts_.size());
  for (std::size_t h = 0; h < hosts_.size(); ++h) {
    auto list = hosts_.agent(h).list();
    if (list) running[h] = std::move(*list);
    else hosts_.report_failure(h);
  }
  std::set<std::string> owned;
  std::vector<Forward> forwards;
  {
    std::lock_guard lock(mu_);
    sessions_.clear();
    data_waiting_.clear();
    std::fill(ports_used_.begin(), ports_used_.end(), false);
    for (auto& s : stored) {
      bool host_known = s.host < hosts_.size() && running[s.host];
      const api::agent::Desktop* live = nullptr;
      if (host_known) {
        for (const auto& d : *running[s.host]) {
          if (d.name == s.desktop) live = &d;
        }
      }
      if (host_known && !live) {
        log_->warn("session '{}' of '{}' has no desktop any more: ended", s.id, s.user);
        store_.remove(s.id);
        continue;
      }
      if (live && live->vnc.port) s.vnc = {live->vnc.host, live->vnc.port};
      if (live && !live->data_attached) data_waiting_.try_emplace(s.id, clock_.now());  // a hand-over cut short
      s.last_seen = clock_.now();  // the grace period starts again after a restart
      owned.insert(s.desktop);
      auto idx = static_cast<std::size_t>(s.lab_port - opt_.first_lab_port);
      if (idx < ports_used_.size()) ports_used_[idx] = true;
      next_order_ = std::max(next_order_, s.order + 1);
      forwards.push_back({s.lab_port, s.client_ip, s.vnc.host, s.vnc.port});
      sessions_[s.id] = s;
    }
  }
  for (std::size_t h = 0; h < hosts_.size(); ++h) {
    if (!running[h]) continue;
    for (const auto& d : *running[h]) {
      if (owned.contains(d.name)) continue;
      log_->warn("desktop '{}' on host '{}' belongs to no session: destroyed", d.name, hosts_.spec(h).name);
      (void)hosts_.agent(h).destroy(d.name);
    }
  }
  reconcile_leases(running);
  return forwards_.rebuild(forwards);
}

}  // namespace labdesk::broker
