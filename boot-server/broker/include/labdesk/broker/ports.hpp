// What the broker needs from the outside world, as interfaces: agents (one per host), the NAT
// forward table, a VNC readiness probe and a clock. Production implementations live beside the
// code that owns the I/O (agents/ over HTTP, nat/ over libnftables); tests use in-memory fakes.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "labdesk/common/api/agent.hpp"
#include "labdesk/common/error.hpp"

namespace labdesk::broker {

class AgentPort {
 public:
  virtual ~AgentPort() = default;
  virtual Result<api::agent::LoadReport> load() = 0;
  virtual Result<std::vector<api::agent::Desktop>> list() = 0;
  virtual Result<api::agent::Desktop> create(const api::agent::CreateDesktop& spec) = 0;
  virtual Result<void> destroy(const std::string& desktop) = 0;
  // Plugs the user's data disk into a desktop started with data_later (idempotent); 409
  // data_in_use while another desktop, on any host sharing the data area, still holds it.
  virtual Result<api::agent::Desktop> attach_data(const std::string& desktop) = 0;
  virtual Result<api::agent::MemoryReport> resize(const std::string& desktop, std::int64_t mib) = 0;
  // A fresh console password for new connections during `valid_for` (open connections stay).
  virtual Result<api::agent::Vnc> console_password(const std::string& desktop, std::chrono::seconds valid_for) = 0;
  // The user's data disk leaves its place on this host ("archive" | "delete"), so that a new user
  // of the same name starts empty; only for an admin deleting the user.
  virtual Result<api::agent::RetiredData> retire_data(const std::string& user, const std::string& mode) = 0;
  // Live migration: the destination gets ready, the source moves the desktop (blocks until it
  // ran there or failed), the destination takes it on (a fresh console password) or, if it never
  // came, cleans up (409 migration_failed).
  virtual Result<api::agent::MigrationTarget> prepare_incoming(const api::agent::IncomingMigration& in) = 0;
  virtual Result<api::agent::MigrationReport> migrate(const std::string& desktop, const api::agent::MigrationTarget& to) = 0;
  // `wait` > 0: waits up to that long for the guest to run there, else "not_arrived" (409, ask
  // again); once taken on, a further call returns libvirt's figures (downtime) without a password.
  virtual Result<api::agent::Arrival> finish_incoming(const std::string& desktop, std::chrono::milliseconds wait = {}) = 0;
  // Lifecycle events after `after`, waiting up to `wait` for one (long-poll).
  virtual Result<api::agent::EventBatch> events(std::uint64_t after, std::chrono::seconds wait) = 0;
};

// One forward: boot-server lab address:lab_port → the VM's VNC endpoint, only from client_ip.
struct Forward {
  int lab_port = 0;
  std::string client_ip;
  std::string vnc_host;
  int vnc_port = 0;
  bool operator==(const Forward&) const = default;
};

class ForwardPort {
 public:
  virtual ~ForwardPort() = default;
  // Adds or atomically replaces the forward on f.lab_port.
  virtual Result<void> upsert(const Forward& f) = 0;
  virtual Result<void> remove(int lab_port) = 0;
  // Replaces every forward at once (start-up reconciliation).
  virtual Result<void> rebuild(const std::vector<Forward>& all) = 0;
};

class VncProbe {
 public:
  virtual ~VncProbe() = default;
  // True once an RFB server greets on host:port, false if none did before the timeout.
  virtual bool wait_ready(const std::string& host, int port, std::chrono::milliseconds timeout) = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace labdesk::broker
