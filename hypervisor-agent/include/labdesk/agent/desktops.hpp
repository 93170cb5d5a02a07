// Desktop lifecycle on one host: create+start, destroy, list, get, balloon resize, screenshot,
// and the reaction to lifecycle events (crash → restart per policy with the same data disk;
// any stop → the throwaway overlay is deleted). libvirt is the truth; the in-memory map is a
// cache rebuilt from domain metadata on every (re)connection.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>

#include "labdesk/agent/config.hpp"
#include "labdesk/agent/domain_xml.hpp"
#include "labdesk/agent/events.hpp"
#include "labdesk/agent/libvirt.hpp"
#include "labdesk/agent/load.hpp"
#include "labdesk/agent/storage.hpp"
#include "labdesk/common/api/agent.hpp"

namespace labdesk::agent {

// Builds the complete spec of one start (pure: everything random comes in as arguments).
DomainSpec make_spec(const AgentConfig& cfg, const ImageConfig& image, const std::string& name,
                     const DesktopMeta& meta, std::int64_t memory_mib, const std::string& password,
                     const std::string& valid_to, const Storage& storage);

class Desktops {
 public:
  Desktops(std::shared_ptr<const AgentConfig> cfg, Libvirt& libvirt, Storage& storage, EventLog& events,
           std::shared_ptr<spdlog::logger> log);
  ~Desktops();
  Desktops(const Desktops&) = delete;
  Desktops& operator=(const Desktops&) = delete;

  Result<api::agent::Desktop> create(const api::agent::CreateDesktop& req);
  // Plugs the user's data disk into a desktop started with data_later, once no other desktop of
  // the user here holds it (409 data_in_use; QEMU's lock answers the same for another host's).
  Result<api::agent::Desktop> attach_data(const std::string& name);
  // force: destroy at once instead of waiting up to desktops.shutdown_seconds for a clean stop.
  Result<void> destroy(const std::string& name, bool force = false);
  Result<std::vector<api::agent::Desktop>> list();
  Result<api::agent::Desktop> get(const std::string& name);
  Result<api::agent::MemoryReport> resize(const std::string& name, std::int64_t memory_mib);
  Result<api::agent::MemoryReport> memory(const std::string& name);
  Result<std::vector<unsigned char>> screenshot_png(const std::string& name);
  // A fresh console password that opens new connections for `valid_seconds` (open ones stay).
  Result<api::agent::Vnc> console_password(const std::string& name, std::int64_t valid_seconds);
  // The user's data disk leaves its place ("archive" | "delete"); 409 in_use while a desktop of
  // the user exists on this host (its disk is open).
  Result<api::agent::RetiredData> retire_data(const std::string& user, const std::string& mode);

  // Live migration (migration.cpp): the destination gets ready, the source moves the desktop
  // (blocks until done), the destination takes it on with a fresh console password, or cleans
  // up if it never came.
  Result<api::agent::MigrationTarget> prepare_incoming(const api::agent::IncomingMigration& req);
  Result<api::agent::MigrationReport> migrate_out(const std::string& name, const api::agent::MigrationTarget& target);
  // `wait` > 0: waits that long for libvirt to resume the guest here, else "not_arrived" (409,
  // nothing cleaned up: ask again). Called again once taken on: the figures libvirt has by then.
  Result<api::agent::Arrival> finish_incoming(const std::string& name, std::chrono::milliseconds wait = {});

  // From libvirt's event thread: queued for the worker, never blocks.
  void on_lifecycle(const LifecycleEvent& e);
  // After every (re)connection: rebuild the cache from metadata, react to desktops that vanished
  // meanwhile, delete orphaned overlays.
  void resync();
  // Waits until queued lifecycle work is done (tests, drain).
  void settle();
  // Ends the worker thread (idempotent); queued events are dropped (libvirt is re-read at start).
  void stop();

  [[nodiscard]] std::int64_t committed_mib() const;
  [[nodiscard]] std::vector<VmSample> vm_samples();
  void set_config(std::shared_ptr<const AgentConfig> cfg);
  [[nodiscard]] std::shared_ptr<const AgentConfig> config() const;

 private:
  struct Entry {
    DesktopMeta meta;
    std::int64_t memory_mib = 0;
    bool pending = false;   // being created or stopped: its overlay must survive a sweep
    bool stopping = false;  // still holds its memory and the user's data disk until it is gone
  };

  // This host's paths and VNC address for a desktop (what a migration's XML swaps).
  HostPaths paths_here(const std::string& name, const DesktopMeta& meta) const;
  void stop_cleanly(const std::string& name, std::chrono::seconds limit);
  void work();
  void handle(const LifecycleEvent& e);
  void handle_crash(const std::string& name, const std::string& detail);
  void adopt(const std::string& name);
  // The NAT network the desktops' cards are plugged into, running (mode "nat" only).
  Result<void> network_ready(const AgentConfig& cfg);
  Result<api::agent::Arrival> arrival_figures(const std::string& name);
  Result<int> start_domain(const std::string& name, const DesktopMeta& meta, std::int64_t memory_mib,
                           const std::string& password);
  std::string random_password();
  static std::string password_valid_to(const AgentConfig& cfg);
  std::string random_id();
  api::agent::Event event(std::string type, const std::string& name, const DesktopMeta& m, std::string detail);
  Result<api::agent::Desktop> to_desktop(const DomainInfo& info) const;
  // The image's ready_line is on this boot's serial console (true for images without one).
  bool guest_ready(const std::string& name, const DesktopMeta& meta) const;

  mutable std::mutex cfg_mutex_;
  std::shared_ptr<const AgentConfig> cfg_;
  Libvirt& libvirt_;
  Storage& storage_;
  EventLog& events_;
  std::shared_ptr<spdlog::logger> log_;

  mutable std::mutex mutex_;
  std::map<std::string, Entry> cache_;
  std::mt19937_64 rng_;

  std::mutex work_mutex_;
  std::condition_variable work_cv_;
  std::deque<LifecycleEvent> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace labdesk::agent
