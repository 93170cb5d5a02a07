// The boot-server's admin config: the typed, validated, immutable result of the config
// pipeline. The planner's sections ([tiers], [placement], [[hosts]]) are its base, declared in
// common/ because labdesk-plan reads them from the same file; the rest is the boot-server's own.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "labdesk/common/config_tree.hpp"
#include "labdesk/common/planner_config.hpp"

namespace labdesk::config {

// The lab network the boot-server serves (PXE, DHCP, NAT). Empty interface: not configured
// (labdesk-plan reads the same file and needs none of it).
struct NetworkConfig {
  std::string interface;       // e.g. "br0"
  std::string address;         // the boot-server's lab address with prefix, "10.77.0.1/24"
  std::string dhcp;            // "full" | "proxy"
  std::string range_start;     // full DHCP only
  std::string range_end;
  std::int64_t lease_seconds = 0;
  std::vector<std::string> dns;
  bool ipv6_ra = true;
  friend bool operator==(const NetworkConfig&, const NetworkConfig&) = default;
};

struct ReservationConfig {
  std::string mac;   // "52:54:00:77:00:10"
  std::string ip;
  std::string name;  // optional host name
  friend bool operator==(const ReservationConfig&, const ReservationConfig&) = default;
};

struct BootConfig {
  std::int64_t http_port = 0;
  std::int64_t files_port = 0;
  std::string assets_dir;  // the pxe-assets output folder (vmlinuz, thin-client/, ipxe/)
  std::string state_dir;   // versions, dnsmasq runtime files, the store by default
  std::string cmdline;     // extra kernel arguments
  std::int64_t keep_versions = 0;
  std::int64_t max_connections = 0;         // lab-facing HTTP server, all lab PCs
  std::int64_t max_connections_per_pc = 0;  // one lab address
  std::string bios_loader;
  std::string uefi_loader;
  std::string uefi32_loader;
  std::string dnsmasq;     // binary
  friend bool operator==(const BootConfig&, const BootConfig&) = default;
};

struct StoreConfig {
  std::string path;  // "" → STATE_DIR/labdesk.sqlite
  friend bool operator==(const StoreConfig&, const StoreConfig&) = default;
};

struct NatConfig {
  bool enabled = true;
  std::string table;
  std::string outbound_interface;  // "" → any interface but the lab's
  std::int64_t port_min = 0;
  std::int64_t port_max = 0;
  friend bool operator==(const NatConfig&, const NatConfig&) = default;
};

// The boot-server's admin API (forwards, clients): loopback by default, bearer token if set.
struct ApiConfig {
  std::string address;
  std::int64_t port = 0;
  std::string token_file;
  friend bool operator==(const ApiConfig&, const ApiConfig&) = default;
};

// TLS on the lab network: the lab API (logins, console credentials) over HTTPS. Empty cert: the
// boot-server's own lab CA (STATE_DIR/tls) issues the certificate.
struct TlsConfig {
  bool enabled = true;
  std::int64_t port = 0;
  std::string cert;  // PEM chain
  std::string key;
  std::string ca;    // what lab PCs trust
  friend bool operator==(const TlsConfig&, const TlsConfig&) = default;
};

// What the broker starts for a login.
struct DesktopsConfig {
  std::string image;
  std::int64_t vnc_ready_seconds = 0;
  bool console_tls = true;  // consoles are VeNCrypt x509: viewers insist on it
  std::string data;         // "per_host" | "shared": where users' data disks live
  friend bool operator==(const DesktopsConfig&, const DesktopsConfig&) = default;
};

// The lab evening itself out (docs/migration.md): growing users back after others leave, and
// live migrations between hosts whose load drifted apart.
struct RebalanceConfig {
  bool enabled = true;
  std::int64_t interval_seconds = 30;
  std::int64_t grow_idle_seconds = 60;  // handoff mode: grow a user whose viewer is away this long
  double memory_spread = 0.25;
  double cpu_spread = 0.5;
  std::int64_t cooldown_seconds = 600;  // a desktop moved for balance stays put this long
  std::string quiet_hours;              // "HH:MM-HH:MM" local time without balance migrations; "" none
  friend bool operator==(const RebalanceConfig&, const RebalanceConfig&) = default;
};

struct LabConfig : PlannerConfig {
  NetworkConfig lab;
  std::vector<ReservationConfig> reservations;
  BootConfig boot;
  StoreConfig store;
  NatConfig nat;
  ApiConfig api;
  TlsConfig tls;
  DesktopsConfig desktops;
  RebalanceConfig rebalance;
  friend bool operator==(const LabConfig&, const LabConfig&) = default;
};

// rebalance.quiet_hours "HH:MM-HH:MM" as minutes of the day [from, to); nullopt if malformed.
std::optional<std::pair<int, int>> parse_quiet_hours(const std::string& text);

// The one schema table: the planner's sections, then the boot-server's.
std::span<const SectionSpec> lab_schema();

// parse → defaults → unknown keys → meaning. Throws ConfigError listing every problem.
LabConfig parse_lab_config(std::string_view text, const std::string& source_name);

// The defaults table as a config (no hosts).
LabConfig defaults();

// The meaning checks alone, for a config built in code rather than read from a file.
Problems validate(const LabConfig& c);

// Reads and parses a file; a missing or unreadable file is a ConfigError too.
LabConfig load_lab_config(const std::string& path);

}  // namespace labdesk::config
