// The only door to libvirt: a connection that reconnects with backoff when libvirtd goes away
// (callers get "libvirt_unavailable" meanwhile), and a dedicated thread running libvirt's event
// loop for lifecycle events. No libvirt type leaks out of this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "labdesk/common/error.hpp"

namespace labdesk::agent {

struct LifecycleEvent {
  std::string domain;
  // "started" | "crashed" (qemu died or the guest crashed) | "shutdown" (guest powered off) |
  // "destroyed" | "stopped" (any other stop) | "other"
  std::string kind;
  std::string detail;  // libvirt's event and detail numbers, for the log
};

struct DomainInfo {
  std::string name;
  std::string state;         // "running" | "paused" | "crashed" | "shutoff" | "starting" | ...
  std::string metadata;      // the agent's metadata element, "" if the domain is not ours
  std::int64_t memory_kib = 0;      // current balloon target
  std::int64_t max_memory_kib = 0;
  std::uint64_t cpu_time_ns = 0;
  int vcpus = 0;
  int vnc_port = 0;
};

// A live migration as libvirt's peer-to-peer mode runs it: this host's libvirtd connects to the
// destination's and QEMU streams memory (and the disks in copy_disks) straight to the other QEMU.
struct MigrationRequest {
  std::string peer_uri;     // the destination's libvirtd, as this host's libvirtd reaches it
  std::string migrate_uri;  // "tcp://ADDR": where the stream goes (the hosts' network)
  std::string dest_xml;     // the domain as it is to run there (its paths and VNC address)
  std::vector<std::string> copy_disks;  // targets copied with it ("vda"); the others are shared
  bool unsafe = false;      // storage libvirt cannot prove is shared (VIR_MIGRATE_UNSAFE)
  bool auto_converge = true;  // throttle a guest that dirties memory faster than it is copied
  std::int64_t max_downtime_ms = 500;
  std::chrono::seconds timeout{120};  // then the job is aborted and the domain stays here
};

// libvirt's statistics of a domain's last completed job (-1: not reported).
struct JobStats {
  std::int64_t elapsed_ms = -1;
  std::int64_t downtime_ms = -1;
  std::int64_t memory_bytes = -1;  // memory transferred
  std::int64_t disk_bytes = -1;    // disk transferred
};

struct Screenshot {
  std::string mime;
  std::vector<unsigned char> bytes;
};

// libvirt's default event loop, run by one thread per process (libvirt allows only one event
// implementation per process, so main owns exactly one of these and passes it down).
class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Libvirt {
 public:
  using EventFn = std::function<void(const LifecycleEvent&)>;
  using ConnectedFn = std::function<void()>;

  struct Options {
    std::string uri;
    std::chrono::milliseconds min_backoff{200};
    std::chrono::milliseconds max_backoff{5000};
  };

  // on_event runs on the event-loop thread; on_connected on the reconnect thread after every
  // successful (re)connection. Neither may block for long.
  Libvirt(EventLoop& loop, Options options, std::shared_ptr<spdlog::logger> log, EventFn on_event,
          ConnectedFn on_connected);
  ~Libvirt();
  Libvirt(const Libvirt&) = delete;
  Libvirt& operator=(const Libvirt&) = delete;

  // Starts the event loop and the connection thread; returns after the first connection attempt.
  void start();
  void stop();
  [[nodiscard]] bool connected() const;
  [[nodiscard]] const std::string& uri() const;

  Result<void> create(const std::string& xml);
  Result<void> destroy(const std::string& name);
  // Presses the ACPI power button; Result<false> once the domain is gone or shut off.
  Result<void> shutdown(const std::string& name);
  Result<bool> running(const std::string& name);
  // Active domains (with metadata only when `with_xml` also fills vnc_port).
  Result<std::vector<DomainInfo>> list(bool with_xml = true);
  Result<DomainInfo> get(const std::string& name);
  Result<void> set_memory(const std::string& name, std::int64_t kib);
  // Replaces a running domain's <graphics> element (render_graphics): a new console password and
  // its expiry; open connections stay.
  Result<void> update_graphics(const std::string& name, const std::string& graphics_xml);
  // Plugs a device (render_data_disk) into a running domain. QEMU refusing the image because
  // another VM holds its lock is 409 "data_in_use".
  Result<void> attach_device(const std::string& name, const std::string& device_xml);
  // Replaces the agent's metadata element of a running domain.
  Result<void> set_metadata(const std::string& name, const std::string& element_xml);
  // The balloon's "actual" from the memory statistics, in KiB.
  Result<std::int64_t> balloon_actual_kib(const std::string& name);
  Result<Screenshot> screenshot(const std::string& name);
  // The running domain's XML as a destination takes it (VIR_DOMAIN_XML_MIGRATABLE, with the
  // console password).
  Result<std::string> migratable_xml(const std::string& name);
  // Blocks until the migration ends: on success the domain runs on the destination and is gone
  // here; on failure it still runs here ("migration_failed", 502).
  Result<void> migrate(const std::string& name, const MigrationRequest& req);
  // The last completed job (on a destination: the incoming migration, with its downtime).
  Result<JobStats> completed_job(const std::string& name);
  // Makes the network `name` run: defined from `xml` (persistent, autostarted with libvirtd)
  // where libvirt has none by that name, started where it is defined but down. A network an
  // admin defined is used as it is. Result<true> when this call defined or started it.
  Result<bool> ensure_network(const std::string& name, const std::string& xml);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace labdesk::agent
