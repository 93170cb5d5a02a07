#include "labdesk/broker/broker.hpp"

#include <algorithm>
#include <set>

#include <sodium.h>

namespace labdesk::broker {

Broker::Broker(BrokerOptions opt, HostTable& hosts, ForwardPort& forwards, VncProbe& probe,
               SessionStore& store, const Clock& clock, std::shared_ptr<spdlog::logger> log)
    : opt_(std::move(opt)), hosts_(hosts), forwards_(forwards), probe_(probe), store_(store),
      clock_(clock), log_(std::move(log)), planner_(opt_.policy),
      ports_used_(static_cast<std::size_t>(opt_.port_count), false) {
  next_seq_ = opt_.first_event_seq;
  if (next_seq_ == 0) {
    next_seq_ = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                               std::chrono::system_clock::now().time_since_epoch()).count());
  }
  if (sodium_init() < 0) throw Failure(Error{"internal", "libsodium failed to initialise", 500});
}

std::string Broker::random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  randombytes_buf(buf.data(), buf.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), buf.data(), buf.size());
  hex.pop_back();
  return hex;
}

Session* Broker::by_user_locked(const std::string& user) {
  for (auto& [id, s] : sessions_) {
    if (s.user == user) return &s;
  }
  return nullptr;
}

Result<Session*> Broker::authorized_locked(const std::string& session, const std::string& token) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return fail("session_gone", "no session '" + session + "': log in again", 404);
  if (token.size() != it->second.token.size() ||
      sodium_memcmp(token.data(), it->second.token.data(), token.size()) != 0) {
    return fail("bad_token", "wrong token for session '" + session + "': log in again", 401);
  }
  it->second.last_seen = clock_.now();
  return &it->second;
}

std::optional<int> Broker::take_port_locked() {
  for (std::size_t i = 0; i < ports_used_.size(); ++i) {
    if (!ports_used_[i]) {
      ports_used_[i] = true;
      return opt_.first_lab_port + static_cast<int>(i);
    }
  }
  return std::nullopt;
}

void Broker::note_locked(std::string type, std::string user, std::string detail) {
  log_entries_.push_back({std::chrono::system_clock::now(), std::move(type), std::move(user), std::move(detail)});
  if (log_entries_.size() > 1000) log_entries_.erase(log_entries_.begin(), log_entries_.begin() + 200);
}

std::vector<LogEntry> Broker::log(std::size_t max) const {
  std::lock_guard lock(mu_);
  auto n = std::min(max, log_entries_.size());
  return {log_entries_.end() - static_cast<std::ptrdiff_t>(n), log_entries_.end()};
}

void Broker::push_event_locked(Session& s, SessionEvent e) {
  e.seq = next_seq_++;
  events_[s.id].push_back(std::move(e));
  auto& list = events_[s.id];
  if (list.size() > 64) list.erase(list.begin(), list.end() - 64);  // a viewer only needs the latest
  auto waiting = std::move(waiters_[s.id]);
  waiters_.erase(s.id);
  for (auto& [after, ready] : waiting) ready();
}

void Broker::retire_token_locked(Session& s, SessionEvent e) {
  e.seq = next_seq_++;
  retired_[s.token] = {s.id, std::move(e)};
  if (retired_.size() > 4096) retired_.erase(retired_.begin());  // viewers long gone; any will do
  auto waiting = std::move(waiters_[s.id]);  // the old PC's long-poll answers with its event now
  waiters_.erase(s.id);
  for (auto& [after, ready] : waiting) ready();
}

alloc::Cluster Broker::cluster_locked(const std::vector<HostLoad>& loads) const {
  alloc::Cluster c;
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    const auto& spec = hosts_.spec(i);
    alloc::Host h{spec.name, spec.capacity_mib, spec.reserved_mib, loads[i].cpu, loads[i].network};
    if (loads[i].state != HostState::up) h.reserved_mib = h.capacity_mib;  // place nothing new there
    c.hosts.push_back(h);
  }
  std::vector<const Session*> ordered;
  for (const auto& [id, s] : sessions_) ordered.push_back(&s);
  std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->order < b->order; });
  for (const auto* s : ordered) c.users.push_back({s->user, s->host, s->mib, s->max_mib});
  return c;
}

Result<LoginResult> Broker::login(const Login& req) {
  std::lock_guard serial(plan_mu_);
  {
    std::unique_lock lock(mu_);
    if (Session* s = by_user_locked(req.user)) {
      // Roaming: the running desktop follows the user; the old PC is told and loses access.
      Session old = *s;
      retire_token_locked(*s, SessionEvent{0, "ended", std::nullopt, "",
                                           "session moved to lab PC '" + req.client_id + "'"});
      s->client_id = req.client_id;
      s->client_ip = req.client_ip;
      s->token = random_hex(32);
      s->events_from = next_seq_;  // the new PC's viewer starts here: older events were not for it
      s->last_seen = clock_.now();
      store_.save(*s);
      Forward f{s->lab_port, s->client_ip, s->vnc.host, s->vnc.port};
      LoginResult out{s->id, s->token, {opt_.lab_address, s->lab_port}, s->vnc_password, s->mib, true};
      ++metrics_.roams;
      ++metrics_.logins;
      note_locked("roam", req.user, "from '" + old.client_id + "' to '" + req.client_id + "'");
      lock.unlock();
      if (auto r = forwards_.upsert(f); !r) return std::unexpected(r.error());
      log_->info("user '{}' roamed from '{}' to '{}'", req.user, old.client_id, req.client_id);
      return out;
    }
    if (std::none_of(ports_used_.begin(), ports_used_.end(), [](bool b) { return !b; })) {
      ++metrics_.rejections;
      return fail("no_capacity", "no forwarded port left: every lab port is in use", 503);
    }
  }
  auto loads = hosts_.loads();
  alloc::Plan plan;
  {
    std::lock_guard lock(mu_);
    auto p = planner_.arrive(cluster_locked(loads), req.user);
    if (!p) return fail("bad_request", p.error(), 409);
    plan = std::move(*p);
    if (plan.rejected()) {
      ++metrics_.rejections;
      note_locked("reject", req.user, plan.steps.front().reason);
      return fail("no_capacity", plan.steps.front().reason, 503);
    }
  }
  LoginResult out;
  out.session = random_hex(12);
  out.token = random_hex(32);
  if (auto r = execute(plan, &req, &out); !r) return std::unexpected(r.error());
  std::lock_guard lock(mu_);
  ++metrics_.logins;
  note_locked("login", req.user, std::to_string(out.tier_mib) + " MiB from '" + req.client_id + "'");
  return out;
}

alloc::Plan cold_on_same_host(alloc::Plan plan, const std::map<std::string, std::size_t>& live) {
  auto& st = plan.steps;
  for (std::size_t i = 0; i < st.size(); ++i) {
    if (st[i].op != alloc::Op::start || !st[i].host) continue;
    auto it = live.find(st[i].user);
    if (it == live.end() || it->second != *st[i].host) continue;
    for (std::size_t j = i + 1; j < st.size(); ++j) {
      if (st[j].op == alloc::Op::destroy && st[j].user == st[i].user && st[j].host == st[i].host) {
        alloc::Step d = st[j];
        st.erase(st.begin() + static_cast<std::ptrdiff_t>(j));
        st.insert(st.begin() + static_cast<std::ptrdiff_t>(i), d);
        ++i;  // past the start, now one further on
        break;
      }
    }
  }
  return plan;
}

Result<void> Broker::execute(const alloc::Plan& planned, const Login* newcomer, LoginResult* out) {
  std::map<std::string, std::size_t> live;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, x] : sessions_) {
      if (!x.desktop.empty()) live[x.user] = x.host;
    }
  }
  const alloc::Plan plan = cold_on_same_host(planned, live);
  std::map<std::string, Pending> pending;
  std::map<std::string, Pending> retired;
  for (const auto& s : plan.steps) {
    switch (s.op) {
      case alloc::Op::start:
        if (auto r = start_step(s, out ? out->session : std::string(), pending); !r) {
          for (auto& [u, p] : pending) (void)hosts_.agent(p.host).destroy(p.desktop.name);
          end_desktopless_locked_plan();
          return r;
        }
        break;
      case alloc::Op::switch_to:
        switch_step(s, newcomer, pending, retired, out);
        break;
      case alloc::Op::destroy:
        (void)destroy_step(s, retired);
        break;
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

Result<void> Broker::start_step(const alloc::Step& s, const std::string& new_session,
                                std::map<std::string, Pending>& pending) {
  std::size_t h = *s.host;
  api::agent::CreateDesktop spec;
  spec.user = s.user;
  spec.image = opt_.image;
  spec.memory_mib = s.mib;
  spec.max_memory_mib = s.max_mib ? s.max_mib : s.mib;
  const auto& tiers = opt_.policy.tiers;
  spec.tier = static_cast<int>(std::find(tiers.begin(), tiers.end(), s.mib) - tiers.begin());
  {
    std::lock_guard lock(mu_);
    Session* existing = by_user_locked(s.user);
    spec.session = existing ? existing->id : new_session;
  }
  auto d = hosts_.agent(h).create(spec);
  if (!d) {
    hosts_.report_failure(h);
    return fail("agent_failed", "host '" + hosts_.spec(h).name + "' could not start a desktop for '" +
                                    s.user + "': " + d.error().message, 502);
  }
  hosts_.report_success(h);
  // A zero timeout: the admin chose not to wait (agents on test:///default have no VNC server).
  if (opt_.vnc_ready_timeout.count() > 0 && !probe_.wait_ready(d->vnc.host, d->vnc.port, opt_.vnc_ready_timeout)) {
    (void)hosts_.agent(h).destroy(d->name);
    return fail("desktop_not_ready", "desktop '" + d->name + "' on host '" + hosts_.spec(h).name +
                                         "' did not answer on VNC in time", 504);
  }
  pending[s.user] = Pending{h, *d};
  return {};
}

void Broker::switch_step(const alloc::Step& s, const Login* newcomer,
                         std::map<std::string, Pending>& pending,
                         std::map<std::string, Pending>& retired, LoginResult* out) {
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
      n.order = next_order_++;
      n.lab_port = take_port_locked().value_or(0);
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
    store_.save(*sess);
    f = Forward{sess->lab_port, sess->client_ip, sess->vnc.host, sess->vnc.port};
    if (fresh) {
      out->endpoint = {opt_.lab_address, sess->lab_port};
      out->vnc_password = sess->vnc_password;
      out->tier_mib = sess->mib;
    } else {
      push_event_locked(*sess, SessionEvent{0, "moved", Endpoint{opt_.lab_address, sess->lab_port},
                                            sess->vnc_password, "memory now " + std::to_string(sess->mib) + " MiB"});
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
  return r;
}

Result<LoginResult> Broker::credential(const std::string& session, const std::string& token) {
  std::lock_guard lock(mu_);
  auto s = authorized_locked(session, token);
  if (!s) return std::unexpected(s.error());
  const Session& x = **s;
  return LoginResult{x.id, x.token, {opt_.lab_address, x.lab_port}, x.vnc_password, x.mib, false};
}

void Broker::end_locked(Session& s, const std::string& reason) {
  push_event_locked(s, SessionEvent{0, "ended", std::nullopt, "", reason});
  auto idx = static_cast<std::size_t>(s.lab_port - opt_.first_lab_port);
  if (idx < ports_used_.size()) ports_used_[idx] = false;
  store_.remove(s.id);
}

Result<void> Broker::end(const std::string& session, const std::string& reason) {
  std::lock_guard serial(plan_mu_);
  return end_serialized(session, reason);
}

Result<void> Broker::end_serialized(const std::string& session, const std::string& reason) {
  Session s;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return fail("not_found", "no session '" + session + "'", 404);
    s = it->second;
    end_locked(it->second, reason);
    note_locked("end", s.user, reason);
    sessions_.erase(it);
    switched_at_.erase(session);
  }
  (void)forwards_.remove(s.lab_port);
  if (!s.desktop.empty()) {
    if (auto r = hosts_.agent(s.host).destroy(s.desktop); !r) {
      log_->warn("destroying '{}' failed: {} (reconciliation will retry)", s.desktop, r.error().message);
    }
  }
  log_->info("session '{}' of '{}' ended: {}", s.id, s.user, reason);
  return {};
}

Result<void> Broker::logout(const std::string& session, const std::string& token) {
  {
    std::lock_guard lock(mu_);
    if (auto s = authorized_locked(session, token); !s) return std::unexpected(s.error());
  }
  return end(session, "logged out");
}

Result<std::vector<SessionEvent>> Broker::events(const std::string& session, const std::string& token,
                                                 std::uint64_t after) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(session);
  auto ev = events_.find(session);
  std::uint64_t from = 0;
  if (auto r = retired_.find(token); r != retired_.end() && r->second.first == session) {
    // The PC this session roamed away from: it gets its "ended", nothing else.
    if (r->second.second.seq > after) return std::vector<SessionEvent>{r->second.second};
    return std::vector<SessionEvent>{};
  }
  if (it == sessions_.end()) {
    // An ended session still delivers its last events (the "ended" reason) once.
    if (ev == events_.end()) return fail("session_gone", "no session '" + session + "': log in again", 404);
  } else if (auto s = authorized_locked(session, token); !s) {
    return std::unexpected(s.error());
  } else {
    from = (*s)->events_from;
  }
  std::vector<SessionEvent> out;
  if (ev != events_.end()) {
    for (const auto& e : ev->second) {
      if (e.seq > after && e.seq >= from) out.push_back(e);
    }
  }
  return out;
}

void Broker::wait_events(const std::string& session, std::uint64_t after, std::function<void()> ready) {
  std::unique_lock lock(mu_);
  auto ev = events_.find(session);
  auto s = sessions_.find(session);
  // After a roam the new PC's events start at events_from: older ones would wake it for nothing.
  const std::uint64_t seen = s == sessions_.end() || s->second.events_from == 0 ? after : std::max(after, s->second.events_from - 1);
  bool have = ev != events_.end() && !ev->second.empty() && ev->second.back().seq > seen;
  if (have || s == sessions_.end()) {
    lock.unlock();
    ready();
    return;
  }
  auto& list = waiters_[session];
  // A viewer polls again after every timeout: older waiters of the session are stale.
  if (list.size() >= 2) list.erase(list.begin());
  list.emplace_back(after, std::move(ready));
}

Result<void> Broker::ack(const std::string& session, const std::string& token, double blackout_s) {
  std::lock_guard lock(mu_);
  if (auto s = authorized_locked(session, token); !s) return std::unexpected(s.error());
  if (blackout_s >= 0 && blackout_s < 3600) metrics_.blackout_seconds.push_back(blackout_s);
  switched_at_.erase(session);
  return {};
}

std::vector<Session> Broker::sessions() const {
  std::lock_guard lock(mu_);
  std::vector<Session> out;
  for (const auto& [id, s] : sessions_) out.push_back(s);
  std::sort(out.begin(), out.end(), [](const Session& a, const Session& b) { return a.order < b.order; });
  return out;
}

Metrics Broker::metrics() const {
  std::lock_guard lock(mu_);
  return metrics_;
}

Result<void> Broker::grow() {
  std::lock_guard serial(plan_mu_);
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
  std::size_t to = hosts_.size();
  for (std::size_t h = 0; h < hosts_.size(); ++h) {
    if (hosts_.spec(h).name == host) to = h;
  }
  if (to == hosts_.size()) return fail("not_found", "no host '" + host + "'", 404);
  auto loads = hosts_.loads();
  alloc::Plan plan;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return fail("not_found", "no session '" + session + "'", 404);
    const Session& s = it->second;
    if (s.host == to) return fail("bad_request", "session '" + session + "' already runs on '" + host + "'", 409);
    plan.steps = {{alloc::Op::start, s.user, to, s.mib, s.max_mib, {}},
                  {alloc::Op::switch_to, s.user, to, s.mib, 0, {}},
                  {alloc::Op::destroy, s.user, s.host, s.mib, 0, {}}};
    // The allocator's own executor check: refuses a move that would overcommit the target.
    if (auto ok = planner_.apply(cluster_locked(loads), plan); !ok) {
      return fail("no_capacity", "host '" + host + "' has no room for " + std::to_string(s.mib) + " MiB", 409);
    }
  }
  return execute(plan, nullptr, nullptr);
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
      if (live->vnc.port == s.vnc.port && live->vnc.host == s.vnc.host && live->vnc.password.empty()) return;
      s.vnc = {live->vnc.host, live->vnc.port};
      if (!live->vnc.password.empty()) s.vnc_password = live->vnc.password;
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

void Broker::sweep() {
  std::vector<std::string> expired;
  {
    std::lock_guard lock(mu_);
    auto now = clock_.now();
    for (const auto& [id, s] : sessions_) {
      if (now - s.last_seen > opt_.grace) expired.push_back(id);
    }
    metrics_.grace_expired += expired.size();
  }
  for (const auto& id : expired) (void)end(id, "the lab PC was gone longer than the grace period");
}

Result<void> Broker::reconcile() {
  std::lock_guard serial(plan_mu_);
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
  return forwards_.rebuild(forwards);
}

}  // namespace labdesk::broker
