// A user's session as the broker keeps it: who, from which lab PC, on which desktop, reached
// through which forwarded port.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace labdesk::broker {

using TimePoint = std::chrono::steady_clock::time_point;

struct Endpoint {
  std::string host;
  int port = 0;
};

struct Session {
  std::string id;
  std::string token;  // bearer secret for this session's client API calls
  std::string user;
  std::string client_id;
  std::string client_ip;
  std::uint64_t order = 0;  // connection order (the allocator's "most recent" is the largest)
  std::size_t host = 0;     // index into the configured hosts
  std::string desktop;      // the agent's domain name
  std::int64_t mib = 0;
  std::int64_t max_mib = 0;
  int tier = 0;
  Endpoint vnc;             // the VM's VNC endpoint on its host
  std::string vnc_password;
  int lab_port = 0;         // the boot-server's forwarded port for this session
  TimePoint last_seen{};
  std::uint64_t events_from = 0;  // events before this number were for an earlier token (a roam)
};

// Pushed to the viewer through the long-poll: "moved" (handoff or roam: reconnect with the new
// credential), "ended" (logged out elsewhere, ended by an admin, grace expired).
struct SessionEvent {
  std::uint64_t seq = 0;
  std::string type;
  std::optional<Endpoint> endpoint;
  std::string vnc_password;
  std::string reason;
};

// Persistence of sessions (intent). libvirt stays the truth for what runs; the broker reconciles
// the two at start.
// Who may have a user's data disk open: one desktop at a time. The broker claims it before a
// desktop opens the disk (at its start, or when a hand-over plugs it in) and releases it once that
// desktop is gone. It lives in the store so that every boot-server sharing the store (and this
// one after a restart) sees it; the agents' `data_attached` says which desktop really has it, and
// QEMU's image lock stands behind both. `disk` is the user's name (one data area for all hosts)
// or user@host (each host's own disk); `host` is the desktop's host's configured name; `desktop`
// is empty while the claiming desktop is being created (its name is the agent's to give).
struct DataLease {
  std::string disk;
  std::string host;
  std::string desktop;
  bool operator==(const DataLease&) const = default;
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;
  virtual void save(const Session& s) = 0;
  virtual void remove(const std::string& id) = 0;
  virtual std::vector<Session> load_all() = 0;
  // Takes the data disk for `holder`, atomically: true if `holder` has it now (it was
  // free, or already `holder`'s, or `holder` names the desktop of a claim made while it was
  // being created on that host), false if another desktop has it.
  virtual bool claim_data(const DataLease& holder) = 0;
  // Gives the disk up, only if `holder` has it (a late release never frees another's claim).
  virtual void release_data(const DataLease& holder) = 0;
  virtual std::optional<DataLease> data_lease(const std::string& disk) = 0;
  virtual std::vector<DataLease> data_leases() = 0;
  // Hosts an admin drained (by configured name): they take no new desktops until undrained,
  // also after a restart.
  virtual void set_drained(const std::string& host, bool drained) = 0;
  virtual std::set<std::string> drained_hosts() = 0;
};

// Whether the claim `held` lets `holder` have the disk (the rule both stores follow).
bool lease_allows(const DataLease& held, const DataLease& holder);

class MemorySessionStore final : public SessionStore {
 public:
  void save(const Session& s) override;
  void remove(const std::string& id) override;
  std::vector<Session> load_all() override { return sessions_; }
  bool claim_data(const DataLease& holder) override;
  void release_data(const DataLease& holder) override;
  std::optional<DataLease> data_lease(const std::string& disk) override;
  std::vector<DataLease> data_leases() override;
  void set_drained(const std::string& host, bool drained) override;
  std::set<std::string> drained_hosts() override { return drained_; }

 private:
  std::vector<Session> sessions_;
  std::vector<DataLease> leases_;
  std::set<std::string> drained_;
};

}  // namespace labdesk::broker
