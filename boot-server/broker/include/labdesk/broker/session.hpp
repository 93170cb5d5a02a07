// A user's session as the broker keeps it: who, from which lab PC, on which desktop, reached
// through which forwarded port.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
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
class SessionStore {
 public:
  virtual ~SessionStore() = default;
  virtual void save(const Session& s) = 0;
  virtual void remove(const std::string& id) = 0;
  virtual std::vector<Session> load_all() = 0;
};

class MemorySessionStore final : public SessionStore {
 public:
  void save(const Session& s) override;
  void remove(const std::string& id) override;
  std::vector<Session> load_all() override { return sessions_; }

 private:
  std::vector<Session> sessions_;
};

}  // namespace labdesk::broker
