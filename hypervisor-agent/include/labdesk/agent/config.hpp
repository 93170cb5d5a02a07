// The agent's config file (one per virtualization host): the typed, validated, immutable result
// of the config pipeline (common/config_tree.hpp does parsing, defaults and unknown keys).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "labdesk/agent/network.hpp"
#include "labdesk/common/config_tree.hpp"

namespace labdesk::agent {

struct ImageConfig {
  std::string name;
  std::string base;     // absolute path of the read-only base qcow2, inside storage.images_dir
  std::string kernel;   // "" or an absolute path inside images_dir (direct kernel boot)
  std::string initrd;   // "" or an absolute path inside images_dir
  std::string cmdline;  // kernel command line; the agent appends labdesk.user=… labdesk.session=…
  std::string ready_line;  // printed on the serial console once the desktop is drawn; "" → none
  friend bool operator==(const ImageConfig&, const ImageConfig&) = default;
};

struct AgentConfig {
  // [agent]
  std::string host;  // this host's name in reports
  std::string listen;
  std::uint16_t port = 0;
  std::string token_file;
  std::string tls_cert;
  std::string tls_key;
  std::int64_t max_body_bytes = 0;
  // [libvirt]
  std::string uri;
  // [storage]
  std::string images_dir;
  std::string overlay_dir;
  std::string data_dir;
  std::string console_dir;   // "" → no serial console
  std::string console_mode;  // "file" | "unix" (socket + log)
  std::int64_t data_disk_mib = 0;
  // [desktops]
  std::int64_t capacity_mib = 0;
  std::string vnc_listen;
  std::int64_t vcpus = 1;
  // "auto" | "kvm" | "tcg" as configured; the running agent's copy holds what it resolved to
  // ("kvm" | "tcg", see accel.hpp).
  std::string accel;
  std::int64_t console_password_seconds = 60;  // 0: console passwords never expire
  std::string restart_policy;  // "on-crash" | "never"
  std::int64_t max_restarts = 0;
  std::int64_t shutdown_seconds = 10;
  // [network]
  NetworkSpec network;
  // [load]
  std::int64_t sample_ms = 0;
  std::int64_t cache_ms = 0;
  // [migration]
  std::string migration_peer_uri;  // "" → no live migration to this host
  std::string migration_address;   // "" → peer_uri's host
  bool migration_unproven_shared = false;
  bool migration_auto_converge = true;
  std::int64_t migration_max_downtime_ms = 500;
  std::int64_t migration_timeout_seconds = 120;
  // [[images]]
  std::vector<ImageConfig> images;

  [[nodiscard]] const ImageConfig* image(std::string_view name) const;
  friend bool operator==(const AgentConfig&, const AgentConfig&) = default;
};

std::span<const config::SectionSpec> agent_schema();

// parse → defaults → unknown keys → meaning. Throws config::ConfigError listing every problem.
AgentConfig parse_agent_config(std::string_view text, const std::string& source_name);
AgentConfig load_agent_config(const std::string& path);


}  // namespace labdesk::agent
