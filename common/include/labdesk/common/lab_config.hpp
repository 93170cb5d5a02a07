// The lab's admin config (boot-server side): the typed, validated, immutable result of the config
// pipeline. labdesk-plan reads the same file, so the sections it needs live here in common/.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "labdesk/common/config_tree.hpp"

namespace labdesk::config {

struct TiersConfig {
  std::vector<std::int64_t> mib;  // strictly descending
  std::string mode;               // "handoff" | "balloon"
  std::int64_t grace_seconds = 0;
};

struct PlacementConfig {
  double memory_weight = 0;
  double cpu_weight = 0;
  double network_weight = 0;
};

struct HostConfig {
  std::string name;
  std::string agent_url;
  std::string token_file;
  std::int64_t capacity_mib = 0;
  std::int64_t reserved_mib = 0;
};

struct LabConfig {
  TiersConfig tiers;
  PlacementConfig placement;
  std::vector<HostConfig> hosts;
};

// The one schema table: keys, types, defaults and their documentation.
std::span<const SectionSpec> lab_schema();

// parse → defaults → unknown keys → meaning. Throws ConfigError listing every problem.
LabConfig parse_lab_config(std::string_view text, const std::string& source_name);

// The defaults table as a config (no hosts), for tools that take settings from flags.
LabConfig defaults();

// The meaning checks alone, for a config built from flags rather than a file.
Problems validate(const LabConfig& c);

// Reads and parses a file; a missing or unreadable file is a ConfigError too.
LabConfig load_lab_config(const std::string& path);

}  // namespace labdesk::config
