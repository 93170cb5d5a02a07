// The broker turns a login into a running desktop and keeps it right: placement by the
// allocator over on-demand host loads, plan execution (hard handoffs that switch the forward and
// tell the viewer), roaming, disconnect grace, and reconciliation with what agents really run.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "labdesk/allocator/balance.hpp"
#include "labdesk/allocator/planner.hpp"
#include "labdesk/broker/hosts.hpp"
#include "labdesk/broker/ports.hpp"
#include "labdesk/broker/session.hpp"

namespace labdesk::broker {

// The lab evening itself out (rebalance.* in the config).
struct RebalanceOptions {
  bool enabled = false;
  std::chrono::seconds grow_idle{60};  // handoff mode: a user grows back once their viewer is away this long
  alloc::BalancePolicy balance;
  std::chrono::seconds cooldown{600};  // a desktop moved for balance stays put this long
  std::function<bool()> quiet_now;     // true during rebalance.quiet_hours (no balance migrations)
};

struct BrokerOptions {
  std::string lab_address;      // what viewers connect to
  int first_lab_port = 15900;   // forwarded ports are first_lab_port .. + port_count - 1
  int port_count = 1000;
  std::string image = "desktop";
  alloc::Policy policy;
  std::chrono::seconds grace{300};
  std::chrono::milliseconds vnc_ready_timeout{60000};  // 0: do not wait for VNC
  // Session event numbers start here. Viewers ignore events numbered at or below the last one
  // they saw, so numbers must keep growing across a boot-server restart: 0 = microseconds since
  // the epoch at construction (above every number issued by an earlier run).
  std::uint64_t first_event_seq = 0;
  // A console password handed out again (credential, roam) is a fresh one from the agent, good
  // for new connections this long; 0: the stored one is handed out.
  std::chrono::seconds console_password_valid{60};
  // Users' data areas are on storage every host reaches (one disk per user, wherever the desktop
  // runs): a handoff to any host then hands the disk over, since it is in one VM at a time.
  bool shared_data = false;
  RebalanceOptions rebalance;
};

struct Login {
  std::string user;  // already authenticated by the caller
  std::string client_id;
  std::string client_ip;
};

// A desktop moved live (Broker::move_live).
struct LiveMove {
  std::string session;
  std::string from;  // host names
  std::string to;
  std::string desktop;
  std::int64_t downtime_ms = -1;  // the guest's pause, as libvirt measured it (-1: not reported)
  std::int64_t total_ms = 0;      // the whole move, planner check to forward switch
};

// What draining a host did (Broker::drain).
struct DrainReport {
  std::string host;
  std::vector<LiveMove> moved;
  std::vector<std::pair<std::string, std::string>> failed;  // session → why it is still there
};

struct LoginResult {
  std::string session;
  std::string token;
  Endpoint endpoint;
  std::string vnc_password;
  std::int64_t tier_mib = 0;
  bool roamed = false;
};

// What the admin sees in "recent events": logins, handoffs, roams, ends, failures.
struct LogEntry {
  std::chrono::system_clock::time_point at;
  std::string type;
  std::string user;
  std::string detail;
};

struct Metrics {
  std::uint64_t logins = 0;
  std::uint64_t rejections = 0;
  std::uint64_t handoffs = 0;
  std::uint64_t roams = 0;
  std::uint64_t grace_expired = 0;
  std::uint64_t failovers = 0;  // users re-placed because their host went down
  std::uint64_t migrations = 0;  // desktops moved live to another host
  // Blackouts reported by viewers after following a move: one report per move counts, kept as
  // fixed buckets (Prometheus' histogram), so no client can grow it.
  struct Histogram {
    static constexpr std::array<double, 7> bounds{0.25, 0.5, 1, 2, 5, 10, 30};
    std::array<std::uint64_t, bounds.size()> at_most{};  // cumulative: count of values <= bounds[i]
    std::uint64_t count = 0;
    double sum = 0;
    void add(double v) {
      for (std::size_t i = 0; i < bounds.size(); ++i) at_most[i] += v <= bounds[i] ? 1U : 0U;
      ++count;
      sum += v;
    }
  } blackout_seconds;
};

// A user's data disk is in one VM at a time. In a handoff whose replacement starts while the
// running desktop still holds the disk it needs, the replacement starts without it (data_later),
// the user is switched to it, the old desktop stops cleanly, and then the disk is plugged into the
// replacement: these users. `live`: user → the host their desktop runs on. With data on each
// host only a replacement on that same host needs the disk the old one holds; with
// `shared_data` (one data area all hosts reach), a replacement on any host does. A cold
// handoff (destroy before start) needs no hand-over.
std::set<std::string> data_handovers(const alloc::Plan& plan, const std::map<std::string, std::size_t>& live,
                                     bool shared_data);

class Broker {
 public:
  Broker(BrokerOptions opt, HostTable& hosts, ForwardPort& forwards, VncProbe& probe,
         SessionStore& store, const Clock& clock, std::shared_ptr<spdlog::logger> log);

  // Places, starts and forwards a desktop (shrinking others by the allocator's plan), or hands
  // the user's running desktop over to this lab PC (roaming). Errors: no_capacity (503),
  // agent failures (502).
  Result<LoginResult> login(const Login& req);
  // A fresh credential for reconnecting, for the lab PC the session is on (`source`: the
  // request's address; another address is 403 not_your_pc); also proves the client is alive.
  Result<LoginResult> credential(const std::string& session, const std::string& token, const std::string& source);
  // `source` as for credential (moves carry console passwords): empty only in-process.
  Result<void> logout(const std::string& session, const std::string& token, const std::string& source = {});
  // Events after `after`; empty when none yet (the HTTP layer long-polls via wait_events).
  Result<std::vector<SessionEvent>> events(const std::string& session, const std::string& token,
                                           std::uint64_t after, const std::string& source = {});
  // Calls `ready` (possibly on another thread) once events after `after` exist, or on timeout.
  void wait_events(const std::string& session, std::uint64_t after, std::function<void()> ready);
  // The viewer reports the blackout it saw after following a move.
  Result<void> ack(const std::string& session, const std::string& token, double blackout_s);

  // Admin operations.
  std::vector<Session> sessions() const;
  // Which desktop may have each data disk open (the store's leases).
  std::vector<DataLease> data_leases() { return store_.data_leases(); }
  Result<void> end(const std::string& session, const std::string& reason);
  Result<void> grow();
  // Hands the session's desktop over to another host at the same size (admin "move").
  Result<void> move(const std::string& session, const std::string& host);
  // Moves the session's running desktop to another host by live migration (broker_migrate.cpp):
  // same guest, its viewer follows. Needs shared_data; 409 no_capacity like move.
  Result<LiveMove> move_live(const std::string& session, const std::string& host);
  // Maintenance: the host takes no new desktops (kept in the store, so also after a restart)
  // and every desktop on it moves live to the host with the most room. A desktop that cannot
  // move stays and is reported; draining again retries it. undrain lets the host take desktops.
  Result<DrainReport> drain(const std::string& host);
  Result<void> undrain(const std::string& host);
  // One look at the lab (broker_rebalance.cpp, every rebalance.interval_seconds): grows users
  // back toward their tier (balloon: live; handoff: only users whose viewer is away), or else
  // moves at most one desktop live to even out the hosts. Returns what it did ("" = nothing).
  std::string rebalance();
  [[nodiscard]] bool drained(std::size_t host) const;
  Metrics metrics() const;
  std::vector<LogEntry> log(std::size_t max = 100) const;
  [[nodiscard]] const alloc::Policy& policy() const { return opt_.policy; }
  [[nodiscard]] HostTable& hosts() { return hosts_; }

  // An agent reported that a desktop restarted (crash recovery) or stopped: refresh the
  // session's VNC endpoint and forward and tell its viewer, or end the session if it is gone.
  void desktop_event(std::size_t host, const api::agent::Event& e);

  // Ends sessions whose client has not been seen for the grace period, and retries data disks
  // a hand-over could not plug in yet.
  void sweep();
  // Asks every host whose last answer is old (HostTable's TTL): a host marked down has its
  // users re-placed on hosts that answer; one that answers again is reconciled (stale desktops
  // destroyed) before it takes new ones. Called with the sweep, every 2 s.
  void watch_hosts();
  // libvirt is the truth: destroy desktops no session owns, end sessions without a desktop,
  // rebuild every forward from the sessions kept.
  Result<void> reconcile();

 private:
  struct Pending {
    std::size_t host;
    api::agent::Desktop desktop;
  };
  // A newcomer whose desktop is starting without the plan lock: counted by later plans as if it
  // were a session already (memory, users per tier, its lab port and place in the order).
  struct Arrival {
    std::size_t host;
    std::int64_t mib;
    std::int64_t max_mib;
    std::uint64_t order;
    int lab_port;
  };
  alloc::Cluster cluster_locked(const std::vector<HostLoad>& loads) const;
  Result<alloc::Plan> plan_arrival(const std::string& user);  // rejected plans included
  Result<alloc::Plan> plan_or_reject(const std::string& user);  // no_capacity counted and noted
  Result<LoginResult> arrive_unserialized(std::unique_lock<std::mutex> serial, const alloc::Plan& plan,
                                          const Login& req);
  Result<LoginResult> start_session(const alloc::Plan& plan, const Login& req);  // execute + count
  Result<LoginResult> roam_locked(Session& s, const Login& req, std::unique_lock<std::mutex>& lock);
  void wait_for_arrivals();  // plan_mu_ held: afterwards no arrival is in flight
  bool wait_for_releases();  // false: no desktop was being destroyed
  class Landing;
  std::optional<Session> forget_session(const std::string& session, const std::string& reason);
  void destroy_forgotten(const Session& s);
  // How a plan's moves are started and told (the defaults: a tier handoff).
  struct Execution {
    std::string event_detail;          // the "moved" event's words; "" → the new memory size
    std::set<std::string> data_later;  // users whose new desktop starts without the data disk
  };
  Result<void> execute(const alloc::Plan& plan, const Login* newcomer, LoginResult* out, const Execution& how = {});
  Result<void> start_step(const alloc::Step& s, const std::string& new_session, bool data_later,
                          std::map<std::string, Pending>& pending);
  // Polls the agent until the desktop's guest has drawn its desktop (api Desktop::ready).
  bool guest_ready(std::size_t host, const std::string& desktop, std::chrono::steady_clock::time_point deadline);
  // The old desktop has stopped: its data disk goes into the user's current desktop (on failure
  // the session waits in data_waiting_ for the next sweep).
  void hand_data_over(const std::string& session);
  void retry_data_handovers();  // plan_mu_ held: every session in data_waiting_
  // The store's data lease (broker_data.cpp).
  DataLease lease_for(const std::string& user, std::size_t host, const std::string& desktop) const;
  bool claim_for_start(const std::string& user, std::size_t host);  // false: another desktop has it
  void release_lease(const std::string& user, std::size_t host, const std::string& desktop);
  bool lease_holder_gone(const DataLease& held);  // its desktop (or its host) is gone
  void reconcile_leases(const std::vector<std::optional<std::vector<api::agent::Desktop>>>& running);
  void switch_step(const alloc::Step& s, const Login* newcomer, std::map<std::string, Pending>& pending,
                   std::map<std::string, Pending>& retired, LoginResult* out, const std::string& detail);
  void fail_over(std::size_t host);  // its users get desktops on hosts that answer
  std::optional<std::size_t> host_index(const std::string& name) const;
  // The start-switch-destroy plan that moves session `s` to host `to`, checked by the allocator
  // (409 no_capacity if it would overcommit `to`); mu_ held.
  Result<alloc::Plan> move_plan_locked(const Session& s, std::size_t to, const std::vector<HostLoad>& loads) const;
  std::string grow_back();
  void tell(const std::string& session, std::string type, std::string reason);  // an event without endpoint
  void switch_live(const Session& s, std::size_t to, const api::agent::Arrival& arrived, const std::string& from_name,
                   const std::string& host);
  std::string balance_hosts();
  // Hosts a desktop on `from` could move to (up, not drained, with room), most free memory first.
  std::vector<std::size_t> destinations(std::size_t from);
  void rejoin(std::size_t host);     // a host back from down: destroy what no session owns
  void end_desktopless_locked_plan();  // plan_mu_ held
  Result<void> destroy_step(const alloc::Step& s, std::map<std::string, Pending>& retired);
  Session* by_user_locked(const std::string& user);
  Result<Session*> authorized_locked(const std::string& session, const std::string& token);
  void push_event_locked(Session& s, SessionEvent e);
  void retire_token_locked(Session& s, SessionEvent ended);
  void end_locked(Session& s, const std::string& reason);
  Result<void> end_serialized(const std::string& session, const std::string& reason);
  std::optional<int> take_port_locked();
  std::string random_hex(std::size_t bytes);
  void note_locked(std::string type, std::string user, std::string detail);
  // A new console password from the desktop's agent (stored in the session); `fallback` if the
  // agent cannot give one (logged).
  std::string fresh_console_password(const std::string& session, std::size_t host, const std::string& desktop,
                                     const std::string& fallback);

  BrokerOptions opt_;
  HostTable& hosts_;
  ForwardPort& forwards_;
  VncProbe& probe_;
  SessionStore& store_;
  const Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  alloc::Planner planner_;

  // One plan at a time: the allocator decides on the whole lab. It is held across agent calls
  // only by plans that change running desktops (handoffs, moves, resizes); a plain arrival
  // reserves its place and starts its desktop without it, and a VM being destroyed keeps its
  // memory reserved, so logins and logouts on many hosts proceed at once.
  std::mutex plan_mu_;
  // Arrivals starting their desktop without plan_mu_, counted until their whole plan (forward
  // included) is done — longer than their entry in arriving_. Lock order: plan_mu_ → flight_mu_,
  // never together with mu_.
  std::mutex flight_mu_;
  std::condition_variable flight_cv_;
  int in_flight_ = 0;
  mutable std::mutex mu_;  // sessions, arrivals, events, metrics
  std::map<std::string, Arrival> arriving_;  // user → its reservation
  std::map<std::size_t, std::int64_t> releasing_;  // host → MiB of desktops still being destroyed
  std::condition_variable released_cv_;  // with mu_: releasing_ became empty
  std::map<std::string, Session> sessions_;
  std::map<std::string, std::vector<SessionEvent>> events_;
  // Tokens a roam replaced -> (session, the "ended" event only the old PC's viewer gets).
  std::map<std::string, std::pair<std::string, SessionEvent>> retired_;
  std::map<std::string, std::vector<std::pair<std::uint64_t, std::function<void()>>>> waiters_;
  std::map<std::string, TimePoint> switched_at_;
  // Sessions whose desktop still waits for its data disk → when the user was switched to it.
  std::map<std::string, TimePoint> data_waiting_;
  std::vector<HostState> seen_states_;  // per host, at the last watch_hosts()
  std::set<std::size_t> drained_;        // hosts in maintenance: nothing new is placed there
  std::map<std::string, TimePoint> balanced_at_;  // user → when their desktop was last moved for balance
  std::vector<bool> ports_used_;
  std::uint64_t next_order_ = 1;
  std::uint64_t next_seq_ = 1;
  Metrics metrics_;
  std::vector<LogEntry> log_entries_;
  std::random_device rd_;
};

}  // namespace labdesk::broker
