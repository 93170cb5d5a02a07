// Sessions after login: credentials, events (long-poll), ends and the disconnect grace, admin
// reads. Logins are in broker_login.cpp, plan execution in broker_plan.cpp.
#include "labdesk/broker/broker.hpp"

#include <algorithm>

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
  for (const auto& name : store_.drained_hosts()) {
    for (std::size_t h = 0; h < hosts_.size(); ++h) {
      if (hosts_.spec(h).name == name) drained_.insert(h);
    }
  }
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

namespace {

Result<void> on_its_pc(const Session& s, const std::string& source) {
  if (source.empty() || source == s.client_ip) return {};
  return fail("not_your_pc", "session '" + s.id + "' is on lab PC '" + s.client_ip + "', not on '" + source +
                                 "': log in from this PC to move the session here", 403);
}

}  // namespace

Result<LoginResult> Broker::credential(const std::string& session, const std::string& token, const std::string& source) {
  LoginResult out;
  std::size_t host = 0;
  std::string desktop;
  {
    std::lock_guard lock(mu_);
    auto s = authorized_locked(session, token);
    if (!s) return std::unexpected(s.error());
    const Session& x = **s;
    if (auto here = on_its_pc(x, source); !here) return std::unexpected(here.error());
    out = LoginResult{x.id, x.token, {opt_.lab_address, x.lab_port}, x.vnc_password, x.mib, false};
    host = x.host;
    desktop = x.desktop;
  }
  out.vnc_password = fresh_console_password(session, host, desktop, out.vnc_password);
  return out;
}

std::string Broker::fresh_console_password(const std::string& session, std::size_t host, const std::string& desktop,
                                           const std::string& fallback) {
  if (opt_.console_password_valid.count() == 0 || desktop.empty()) return fallback;
  auto vnc = hosts_.agent(host).console_password(desktop, opt_.console_password_valid);
  if (!vnc) {
    log_->warn("no fresh console password for desktop '{}': {} (handing out the current one)", desktop, vnc.error().message);
    return fallback;
  }
  std::lock_guard lock(mu_);
  if (auto it = sessions_.find(session); it != sessions_.end() && it->second.desktop == desktop) {
    it->second.vnc_password = vnc->password;
  }
  return vnc->password;
}

void Broker::end_locked(Session& s, const std::string& reason) {
  push_event_locked(s, SessionEvent{0, "ended", std::nullopt, "", reason});
  auto idx = static_cast<std::size_t>(s.lab_port - opt_.first_lab_port);
  if (idx < ports_used_.size()) ports_used_[idx] = false;
  store_.remove(s.id);
}

Result<void> Broker::end(const std::string& session, const std::string& reason) {
  std::unique_lock serial(plan_mu_);
  auto s = forget_session(session, reason);
  if (!s) return fail("not_found", "no session '" + session + "'", 404);
  serial.unlock();  // a clean guest shutdown takes seconds: its memory stays reserved meanwhile
  destroy_forgotten(*s);
  return {};
}

Result<void> Broker::end_serialized(const std::string& session, const std::string& reason) {
  auto s = forget_session(session, reason);
  if (!s) return fail("not_found", "no session '" + session + "'", 404);
  destroy_forgotten(*s);
  return {};
}

std::optional<Session> Broker::forget_session(const std::string& session, const std::string& reason) {
  Session s;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return std::nullopt;
    s = it->second;
    end_locked(it->second, reason);
    note_locked("end", s.user, reason);
    sessions_.erase(it);
    switched_at_.erase(session);
    if (!s.desktop.empty()) releasing_[s.host] += s.mib;
  }
  (void)forwards_.remove(s.lab_port);
  log_->info("session '{}' of '{}' ended: {}", s.id, s.user, reason);
  return s;
}

void Broker::destroy_forgotten(const Session& s) {
  if (s.desktop.empty()) return;
  if (auto r = hosts_.agent(s.host).destroy(s.desktop); !r) {
    log_->warn("destroying '{}' failed: {} (reconciliation will retry)", s.desktop, r.error().message);
  } else {
    release_lease(s.user, s.host, s.desktop);
  }
  {
    std::lock_guard lock(mu_);
    if ((releasing_[s.host] -= s.mib) <= 0) releasing_.erase(s.host);
  }
  released_cv_.notify_all();
}

Result<void> Broker::logout(const std::string& session, const std::string& token, const std::string& source) {
  {
    std::lock_guard lock(mu_);
    auto s = authorized_locked(session, token);
    if (!s) return std::unexpected(s.error());
    if (auto here = on_its_pc(**s, source); !here) return std::unexpected(here.error());
  }
  return end(session, "logged out");
}

Result<std::vector<SessionEvent>> Broker::events(const std::string& session, const std::string& token,
                                                 std::uint64_t after, const std::string& source) {
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
  } else if (auto here = on_its_pc(**s, source); !here) {
    return std::unexpected(here.error());
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
  // Only the first report after a move counts: a viewer cannot skew the figures by repeating it.
  if (switched_at_.erase(session) > 0 && blackout_s >= 0 && blackout_s < 3600) metrics_.blackout_seconds.add(blackout_s);
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
  {
    std::lock_guard lock(mu_);
    if (data_waiting_.empty()) return;
  }
  std::lock_guard serial(plan_mu_);  // no handoff of the same user meanwhile
  retry_data_handovers();
}

}  // namespace labdesk::broker
