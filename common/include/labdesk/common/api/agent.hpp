// The JSON types of the hypervisor-agent API (/v1), one definition used by the agent and by the
// boot-server's agent client. docs/api/agent.md documents the endpoints with examples.
//
//   GET    /v1/health                      Health                  (no auth)
//   GET    /v1/images                      [ImageInfo]
//   GET    /v1/desktops                    [Desktop]
//   POST   /v1/desktops                    CreateDesktop → 201 Desktop (with vnc.password)
//   GET    /v1/desktops/{name}             Desktop
//   DELETE /v1/desktops/{name}             → 200 {"destroyed": name}   (data disk kept)
//   POST   /v1/desktops/{name}/data        → Desktop (the user's data disk plugged in)
//   POST   /v1/desktops/{name}/memory      ResizeMemory → MemoryReport
//   GET    /v1/desktops/{name}/memory      MemoryReport (requested vs balloon actual, now)
//   GET    /v1/desktops/{name}/screenshot  image/png
//   GET    /v1/load                        LoadReport
//   GET    /v1/events?after=SEQ&wait=S     EventBatch (long-poll)
//   POST   /v1/migrations                  IncomingMigration → MigrationTarget (destination)
//   POST   /v1/desktops/{name}/migrate     MigrateDesktop → MigrationReport (source)
//   POST   /v1/migrations/{name}/finish    → Arrival (destination; 409 if it did not arrive)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "labdesk/common/error.hpp"

namespace labdesk::api::agent {

struct Health {
  bool ok = false;
  std::string libvirt;  // "connected" | "reconnecting"
  std::string uri;
  std::string host;     // the agent's host name from its config
  std::int64_t capacity_mib = 0;
  std::string version;
  std::string accel;  // what desktops run with: "kvm" | "tcg"
};

struct ImageInfo {
  std::string name;
  std::string base;  // path of the read-only base qcow2 on the host
  bool direct_kernel = false;
};

struct CreateDesktop {
  std::string user;     // [a-z0-9._-], 1..32
  std::string session;  // opaque id from the boot-server, [A-Za-z0-9._-], 1..64
  std::string image;    // catalog name
  std::int64_t memory_mib = 0;
  std::int64_t max_memory_mib = 0;  // 0: same as memory_mib (no balloon headroom)
  int tier = 0;
  // The replacement in a handoff starts without the user's data disk, which the old desktop
  // still holds; POST /v1/desktops/{name}/data plugs it in once the old one has stopped.
  bool data_later = false;
};

struct Vnc {
  std::string host;  // the host's internal address the VNC server listens on
  int port = 0;
  std::string password;  // only in the answer to POST (rotated on every start)
};

struct Desktop {
  std::string name;  // libvirt domain name, "ld-<user>-<id>"
  std::string user;
  std::string session;
  std::string image;
  int tier = 0;
  std::string state;  // "running" | "starting" | "crashed" | "shutoff"
  std::int64_t memory_mib = 0;      // requested (balloon target)
  std::int64_t max_memory_mib = 0;
  Vnc vnc;
  int restarts = 0;
  bool data_attached = true;  // false: started with data_later, the data disk not plugged in yet
  // The guest has drawn its desktop (its image's ready_line is on the serial console); always
  // true for an image without one.
  bool ready = true;
};

struct ResizeMemory {
  std::int64_t memory_mib = 0;
};

// POST /v1/desktops/{name}/console: a fresh console password, good for new connections for
// valid_seconds; answered with the desktop's Vnc (host, port, the new password).
struct ConsolePassword {
  std::int64_t valid_seconds = 60;
};

// POST /v1/users/{user}/data/retire: the user's data disk leaves its place on this host, so that a
// new user of the same name starts empty. "archive" moves it to data_dir/retired/, "delete"
// removes it. Refused (409 in_use) while a desktop of the user exists.
struct RetireData {
  std::string mode = "archive";  // "archive" | "delete"
};

struct RetiredData {
  std::string user;
  std::string mode;
  bool found = false;       // false: this host had no data disk for the user
  std::string archived_to;  // "archive": where the disk is now
};

// Live migration, driven by the boot-server: the destination gets ready (an empty overlay on its
// copy of the image's base, the paths its XML will have), the source migrates, the destination
// finishes (a fresh console password; or clean-up if the desktop never arrived).
struct IncomingMigration {
  std::string desktop;  // the domain's name, kept across hosts
  std::string image;    // catalog name: the destination's own base for it
};

struct MigrationTarget {
  std::string host;         // the destination agent's host name
  std::string peer_uri;     // its libvirtd, as the source's libvirtd reaches it
  std::string migrate_uri;  // "tcp://ADDR" on the hosts' network
  std::string vnc_listen;
  std::string overlay;
  std::string console_socket;
  std::string console_log;
  std::string kernel;
  std::string initrd;
  std::string accel;  // the destination's accelerator: a desktop moves live only between equals
};

struct MigrateDesktop {
  MigrationTarget target;
};

struct MigrationReport {
  std::string desktop;
  std::string host;         // where it runs now
  std::int64_t total_ms = 0;  // the source agent's whole call, from XML to the end
};

struct Arrival {
  Desktop desktop;                 // with vnc.password (a fresh one)
  std::int64_t downtime_ms = -1;   // libvirt's figure for the pause (-1: not reported)
  std::int64_t elapsed_ms = -1;    // the incoming job
  std::int64_t memory_bytes = -1;
  std::int64_t disk_bytes = -1;
};

struct MemoryReport {
  std::int64_t requested_mib = 0;
  std::int64_t actual_mib = 0;  // balloon "actual" from the memory stats
};

struct NicLoad {
  std::string name;
  double rx_bytes_per_s = 0;
  double tx_bytes_per_s = 0;
  std::int64_t speed_mbps = 0;  // 0: unknown
  double utilization = 0;       // 0..1 against link speed (0 if unknown)
};

struct DesktopLoad {
  std::string name;
  double cpu_pct = 0;  // CPU time delta over wall delta, all vCPUs
  std::int64_t memory_mib = 0;
};

struct LoadReport {
  std::string host;
  double cpu_pct = 0;  // host CPU from two /proc/stat samples (100 = every core busy)
  std::int64_t cpus = 1;  // online cores: a desktop's cpu_pct / cpus is its share of the host
  std::string accel;      // what desktops run with: "kvm" | "tcg"
  std::int64_t mem_total_mib = 0;
  std::int64_t mem_used_mib = 0;
  std::int64_t committed_mib = 0;  // memory given to desktops
  std::vector<NicLoad> nics;
  std::vector<DesktopLoad> desktops;
  double sample_window_s = 0;
};

struct Event {
  std::uint64_t seq = 0;
  // "started" | "stopped" | "crashed" | "restarted" | "resized" | "data_attached" |
  // "migrated" (it left this host, running) | "arrived" (it came by live migration)
  std::string type;
  std::string desktop;
  std::string user;
  std::string session;
  std::string detail;
  Vnc vnc;  // on "restarted": the new port and password (rotated on every start)
};

struct EventBatch {
  std::vector<Event> events;
  std::uint64_t next = 0;  // pass as ?after= next time
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Health, ok, libvirt, uri, host, capacity_mib, version, accel)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ImageInfo, name, base, direct_kernel)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CreateDesktop, user, session, image, memory_mib, max_memory_mib, tier, data_later)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Vnc, host, port, password)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Desktop, name, user, session, image, tier, state, memory_mib, max_memory_mib, vnc, restarts, data_attached, ready)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ResizeMemory, memory_mib)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ConsolePassword, valid_seconds)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RetireData, mode)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RetiredData, user, mode, found, archived_to)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(IncomingMigration, desktop, image)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MigrationTarget, host, peer_uri, migrate_uri, vnc_listen, overlay, console_socket, console_log, kernel, initrd, accel)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MigrateDesktop, target)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MigrationReport, desktop, host, total_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Arrival, desktop, downtime_ms, elapsed_ms, memory_bytes, disk_bytes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MemoryReport, requested_mib, actual_mib)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(NicLoad, name, rx_bytes_per_s, tx_bytes_per_s, speed_mbps, utilization)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DesktopLoad, name, cpu_pct, memory_mib)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LoadReport, host, cpu_pct, cpus, accel, mem_total_mib, mem_used_mib, committed_mib, nics, desktops, sample_window_s)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Event, seq, type, desktop, user, session, detail, vnc)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EventBatch, events, next)

}  // namespace labdesk::api::agent

namespace labdesk::api {

// Reads a request body strictly: an object, only T's keys (taken from T's own JSON form), right
// types. A problem is a 400 naming the key, e.g.
// "unknown key 'memry_mib' in request: did you mean 'memory_mib'?".
template <typename T>
Result<T> parse_strict(const nlohmann::json& body);

}  // namespace labdesk::api

#include "labdesk/common/api/parse.ipp"
