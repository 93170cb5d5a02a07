// Logins: placement by the allocator over on-demand host loads, roaming, and arrivals that
// start their desktop beside each other (a reservation instead of the plan lock).
#include <algorithm>

#include "labdesk/broker/broker.hpp"

namespace labdesk::broker {

alloc::Cluster Broker::cluster_locked(const std::vector<HostLoad>& loads) const {
  alloc::Cluster c;
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    const auto& spec = hosts_.spec(i);
    alloc::Host h{spec.name, spec.capacity_mib, spec.reserved_mib, loads[i].cpu, loads[i].network};
    if (auto r = releasing_.find(i); r != releasing_.end()) h.reserved_mib += r->second;
    // Down, or drained by an admin: place nothing new there.
    if (loads[i].state != HostState::up || drained_.contains(i)) h.reserved_mib = h.capacity_mib;
    c.hosts.push_back(h);
  }
  std::vector<std::pair<std::uint64_t, alloc::Vm>> ordered;
  for (const auto& [id, s] : sessions_) ordered.push_back({s.order, {s.user, s.host, s.mib, s.max_mib}});
  for (const auto& [user, a] : arriving_) ordered.push_back({a.order, {user, a.host, a.mib, a.max_mib}});
  std::sort(ordered.begin(), ordered.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  for (auto& [order, u] : ordered) c.users.push_back(std::move(u));
  return c;
}

namespace {

// A plan that only starts the newcomer touches no running desktop: it may run beside others.
bool newcomer_only(const alloc::Plan& plan, const std::string& user) {
  return std::all_of(plan.steps.begin(), plan.steps.end(), [&](const alloc::Step& s) {
    return s.user == user && (s.op == alloc::Op::start || s.op == alloc::Op::switch_to);
  });
}

}  // namespace

void Broker::wait_for_arrivals() {
  std::unique_lock f(flight_mu_);
  flight_cv_.wait(f, [this] { return in_flight_ == 0; });
}

bool Broker::wait_for_releases() {
  std::unique_lock lock(mu_);
  if (releasing_.empty()) return false;
  released_cv_.wait(lock, [this] { return releasing_.empty(); });
  return true;
}

Result<alloc::Plan> Broker::plan_arrival(const std::string& user) {
  auto loads = hosts_.loads();
  std::lock_guard lock(mu_);
  auto p = planner_.arrive(cluster_locked(loads), user);
  if (!p) return fail("bad_request", p.error(), 409);
  return std::move(*p);
}

Result<alloc::Plan> Broker::plan_or_reject(const std::string& user) {
  auto plan = plan_arrival(user);
  // Memory of desktops still shutting down comes back in seconds: worth waiting for.
  if (plan && plan->rejected() && wait_for_releases()) plan = plan_arrival(user);
  if (plan && plan->rejected()) {
    std::lock_guard lock(mu_);
    ++metrics_.rejections;
    note_locked("reject", user, plan->steps.front().reason);
    return fail("no_capacity", plan->steps.front().reason, 503);
  }
  return plan;
}

Result<LoginResult> Broker::login(const Login& req) {
  std::unique_lock serial(plan_mu_);
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (Session* s = by_user_locked(req.user)) {
        const std::string id = s->id, desktop = s->desktop;
        const std::size_t host = s->host;
        auto out = roam_locked(*s, req, lock);  // unlocks
        // The old PC's viewer knows the password: the new PC gets a fresh one.
        if (out) out->vnc_password = fresh_console_password(id, host, desktop, out->vnc_password);
        return out;
      }
      if (!arriving_.contains(req.user)) {
        if (std::none_of(ports_used_.begin(), ports_used_.end(), [](bool b) { return !b; })) {
          ++metrics_.rejections;
          return fail("no_capacity", "no forwarded port left: every lab port is in use", 503);
        }
        break;
      }
    }
    wait_for_arrivals();  // the user's own first login is still starting: roam onto it after
  }
  auto plan = plan_or_reject(req.user);
  if (!plan) return std::unexpected(plan.error());
  if (newcomer_only(*plan, req.user)) return arrive_unserialized(std::move(serial), *plan, req);
  // Others change size or place: that needs the lab as it is once the arrivals in flight landed.
  wait_for_arrivals();
  plan = plan_or_reject(req.user);
  if (!plan) return std::unexpected(plan.error());
  return start_session(*plan, req);
}

Result<LoginResult> Broker::start_session(const alloc::Plan& plan, const Login& req) {
  LoginResult out;
  out.session = random_hex(12);
  out.token = random_hex(32);
  if (auto r = execute(plan, &req, &out); !r) return std::unexpected(r.error());
  std::lock_guard lock(mu_);
  ++metrics_.logins;
  note_locked("login", req.user, std::to_string(out.tier_mib) + " MiB from '" + req.client_id + "'");
  return out;
}

Result<LoginResult> Broker::roam_locked(Session& s, const Login& req, std::unique_lock<std::mutex>& lock) {
  // Roaming: the running desktop follows the user; the old PC is told and loses access.
  std::string old_client = s.client_id;
  retire_token_locked(s, SessionEvent{0, "ended", std::nullopt, "", "session moved to lab PC '" + req.client_id + "'"});
  s.client_id = req.client_id;
  s.client_ip = req.client_ip;
  s.token = random_hex(32);
  s.events_from = next_seq_;  // the new PC's viewer starts here: older events were not for it
  s.last_seen = clock_.now();
  store_.save(s);
  Forward f{s.lab_port, s.client_ip, s.vnc.host, s.vnc.port};
  LoginResult out{s.id, s.token, {opt_.lab_address, s.lab_port}, s.vnc_password, s.mib, true};
  ++metrics_.roams;
  ++metrics_.logins;
  note_locked("roam", req.user, "from '" + old_client + "' to '" + req.client_id + "'");
  lock.unlock();
  if (auto r = forwards_.upsert(f); !r) return std::unexpected(r.error());
  log_->info("user '{}' roamed from '{}' to '{}'", req.user, old_client, req.client_id);
  return out;
}

// Whatever happens to an arrival (an agent error, an exception from the store), its reservation
// goes and the plans waiting for arrivals to land are let through.
class Broker::Landing {
 public:
  Landing(Broker& b, std::string user) : b_(b), user_(std::move(user)) {}
  Landing(const Landing&) = delete;
  Landing& operator=(const Landing&) = delete;
  ~Landing() {
    {
      std::lock_guard lock(b_.mu_);
      if (auto it = b_.arriving_.find(user_); it != b_.arriving_.end()) {  // it failed before its switch
        b_.ports_used_[static_cast<std::size_t>(it->second.lab_port - b_.opt_.first_lab_port)] = false;
        b_.arriving_.erase(it);
      }
    }
    {
      std::lock_guard f(b_.flight_mu_);
      --b_.in_flight_;
    }
    b_.flight_cv_.notify_all();
  }

 private:
  Broker& b_;
  std::string user_;
};

Result<LoginResult> Broker::arrive_unserialized(std::unique_lock<std::mutex> serial, const alloc::Plan& plan,
                                                const Login& req) {
  const alloc::Step& start = plan.steps.front();
  {
    std::lock_guard lock(mu_);
    auto port = take_port_locked();
    if (!port) return fail("no_capacity", "no forwarded port left: every lab port is in use", 503);
    arriving_[req.user] = Arrival{*start.host, start.mib, start.max_mib ? start.max_mib : start.mib, next_order_++, *port};
  }
  {
    std::lock_guard f(flight_mu_);
    ++in_flight_;
  }
  Landing landing(*this, req.user);
  serial.unlock();
  return start_session(plan, req);
}

}  // namespace labdesk::broker
