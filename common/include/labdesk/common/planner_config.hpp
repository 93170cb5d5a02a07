// What labdesk-plan and the boot-server's broker both plan from: the [tiers], [placement] and
// [[hosts]] sections of the lab config. The rest of that file is the boot-server's own
// (boot-server/config/lab_config.hpp).
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
  friend bool operator==(const TiersConfig&, const TiersConfig&) = default;
};

struct PlacementConfig {
  double memory_weight = 0;
  double cpu_weight = 0;
  double network_weight = 0;
  friend bool operator==(const PlacementConfig&, const PlacementConfig&) = default;
};

struct HostConfig {
  std::string name;
  std::string agent_url;
  std::string token_file;
  std::int64_t capacity_mib = 0;
  std::int64_t reserved_mib = 0;
  friend bool operator==(const HostConfig&, const HostConfig&) = default;
};

struct PlannerConfig {
  TiersConfig tiers;
  PlacementConfig placement;
  std::vector<HostConfig> hosts;
  friend bool operator==(const PlannerConfig&, const PlannerConfig&) = default;
};

// The three sections, each key declared once and bound to its PlannerConfig member. A config
// that holds a PlannerConfig as its base (the boot-server's) reaches them through
// planner_section<Config, I>.
std::span<const SectionSpec> planner_schema();

// Locates section I of planner_schema() inside a Config derived from PlannerConfig.
template <typename Config, std::size_t I>
void* planner_section(void* config, std::size_t index) {
  PlannerConfig* base = static_cast<Config*>(config);
  return planner_schema()[I].locate(base, index);
}

// The meaning checks of the three sections; positions come from `tree` when there is one.
void check_planner(const PlannerConfig& c, const Tree* tree, Problems& problems);

// Reads the planner's sections of a lab config file and leaves the other sections to the
// daemon that owns them (labdesk-boot-server --check-config checks the whole file).
PlannerConfig parse_planner_config(std::string_view text, const std::string& source_name);
PlannerConfig load_planner_config(const std::string& path);

// The defaults table as a config (no hosts), for tools that take settings from flags.
PlannerConfig planner_defaults();

// The meaning checks alone, for a config built from flags rather than a file.
Problems validate_planner(const PlannerConfig& c);

// A name an admin gives (a host, a reservation, an nft table): 1-64 letters, digits, '.', '_', '-'.
bool valid_name(std::string_view s);

}  // namespace labdesk::config
