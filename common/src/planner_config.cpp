#include "labdesk/common/planner_config.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <set>


namespace labdesk::config {
namespace {

using I = std::int64_t;

const std::array kTierKeys{
    key<&TiersConfig::mib>("mib", std::vector<I>{4096, 2048, 1024, 512},
            "VM memory per tier in MiB, largest first; tier m is used while users <= U_m"),
    key<&TiersConfig::mode>("mode", std::string("handoff"),
            "how running users shrink: \"handoff\" (start a smaller VM, switch, destroy the old) "
            "or \"balloon\" (live resize)"),
    key<&TiersConfig::grace_seconds>("grace_seconds", I{300},
            "how long a desktop keeps running after its thin client vanishes"),
};

const std::array kPlacementKeys{
    key<&PlacementConfig::memory_weight>("memory_weight", 0.5, "weight of memory utilization in the host score"),
    key<&PlacementConfig::cpu_weight>("cpu_weight", 0.3, "weight of CPU utilization in the host score"),
    key<&PlacementConfig::network_weight>("network_weight", 0.2, "weight of NIC utilization in the host score"),
};

const std::array kHostKeys{
    key<&HostConfig::name>("name", std::nullopt, "unique host name: letters, digits, '.', '_', '-'"),
    key<&HostConfig::agent_url>("agent_url", std::string(), "base URL of the host's labdesk-agent"),
    key<&HostConfig::token_file>("token_file", std::string(), "file holding the agent's bearer token"),
    key<&HostConfig::capacity_mib>("capacity_mib", std::nullopt, "memory the host gives to desktops, in MiB"),
    key<&HostConfig::reserved_mib>("reserved_mib", I{0}, "part of capacity_mib kept free, in MiB"),
};

const std::array kSchema{
    SectionSpec{"tiers", false, false, kTierKeys, "",
                "Memory tiers: with n users connected the system is in the smallest tier m with "
                "n <= U_m = floor(C / mib[m]) - 1, C being the hosts' total usable memory.", section<&PlannerConfig::tiers>},
    SectionSpec{"placement", false, false, kPlacementKeys, "",
                "Host score = memory_weight*mem + cpu_weight*cpu + network_weight*net "
                "(utilizations 0..1); new desktops go to the lowest score.", section<&PlannerConfig::placement>},
    SectionSpec{"hosts", true, true, kHostKeys,
                "no [[hosts]] entries: add at least one [[hosts]] table with name and capacity_mib",
                "One table per virtualization host.", section<&PlannerConfig::hosts>},
};

class Checker {
 public:
  Checker(const PlannerConfig& c, const Tree* t, Problems& p) : c_(c), tree_(t), problems_(p) {}

  void run() {
    hosts();
    tiers();
    placement();
  }

 private:
  void problem(const std::string& key, std::string msg) {
    problems_.add(key, tree_ ? tree_->position(key) : Position{}, std::move(msg));
  }

  void hosts() {
    std::set<std::string> seen;
    if (c_.hosts.empty() && !tree_) {
      problem("hosts", "no hosts: give at least one host with its capacity in MiB");
    }
    for (std::size_t i = 0; i < c_.hosts.size(); ++i) {
      std::string p = "hosts[" + std::to_string(i) + "]";
      const HostConfig& h = c_.hosts[i];
      if (!tree_ || tree_->find(p + ".name")) {
        if (!valid_name(h.name)) {
          problem(p + ".name", "host name '" + h.name + "' is not usable: use 1-64 letters, digits, '.', '_' or '-'");
        } else if (!seen.insert(h.name).second) {
          problem(p + ".name", "host name '" + h.name + "' is used twice: give every host its own name");
        }
      }
      if (h.capacity_mib <= 0 && (!tree_ || tree_->find(p + ".capacity_mib"))) {
        problem(p + ".capacity_mib", "capacity_mib " + std::to_string(h.capacity_mib) + " must be above 0: give the MiB this host offers to desktops");
      }
      if (h.reserved_mib < 0 || (h.capacity_mib > 0 && h.reserved_mib >= h.capacity_mib)) {
        problem(p + ".reserved_mib", "reserved_mib " + std::to_string(h.reserved_mib) + " must be at least 0 and below capacity_mib " + std::to_string(h.capacity_mib));
      }
    }
  }

  void tiers() {
    const auto& mib = c_.tiers.mib;
    if (mib.empty()) {
      problem("tiers.mib", "tiers.mib is empty: list at least one size in MiB, largest first, e.g. [4096, 2048, 1024, 512]");
    }
    std::int64_t largest_host = 0;
    std::string largest_name;
    for (const auto& h : c_.hosts) {
      if (h.capacity_mib - h.reserved_mib > largest_host) {
        largest_host = h.capacity_mib - h.reserved_mib;
        largest_name = h.name;
      }
    }
    for (std::size_t i = 0; i < mib.size(); ++i) {
      std::string k = "tiers.mib[" + std::to_string(i) + "]";
      if (mib[i] <= 0) {
        problem(k, "tier " + std::to_string(mib[i]) + " MiB in " + k + " must be above 0");
      } else if (i > 0 && mib[i] >= mib[i - 1]) {
        problem(k, "tiers not descending: " + std::to_string(mib[i]) + " MiB in " + k + " is not below " + std::to_string(mib[i - 1]) + " MiB in tiers.mib[" + std::to_string(i - 1) + "]; list sizes largest first, e.g. [4096, 2048, 1024, 512]");
      }
      if (largest_host > 0 && mib[i] > largest_host) {
        problem(k, "tier " + std::to_string(mib[i]) + " MiB in " + k + " is larger than every host (largest usable: '" + largest_name + "' with " + std::to_string(largest_host) + " MiB): lower the tier or add a larger host");
      }
    }
    if (c_.tiers.mode != "handoff" && c_.tiers.mode != "balloon") {
      problem("tiers.mode", "unknown tiers.mode '" + c_.tiers.mode + "': use \"handoff\" or \"balloon\"");
    }
    if (c_.tiers.grace_seconds < 0) {
      problem("tiers.grace_seconds", "grace_seconds " + std::to_string(c_.tiers.grace_seconds) + " must be 0 or more");
    }
  }

  void placement() {
    const auto& p = c_.placement;
    auto weight = [&](const char* key, double v) {
      if (v < 0) problem(std::string("placement.") + key, std::string(key) + " " + std::to_string(v) + " must be 0 or more");
    };
    weight("memory_weight", p.memory_weight);
    weight("cpu_weight", p.cpu_weight);
    weight("network_weight", p.network_weight);
    if (p.memory_weight + p.cpu_weight + p.network_weight <= 0) {
      problem("placement", "all placement weights are 0: give at least one of memory_weight, cpu_weight, network_weight a positive value");
    }
  }

  const PlannerConfig& c_;
  const Tree* tree_;
  Problems& problems_;
};

}  // namespace

std::span<const SectionSpec> planner_schema() { return kSchema; }

void check_planner(const PlannerConfig& c, const Tree* tree, Problems& problems) {
  Checker(c, tree, problems).run();
}

bool valid_name(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  }) && s != "." && s != "..";
}

PlannerConfig parse_planner_config(std::string_view text, const std::string& source_name) {
  Problems problems;
  Tree tree = Tree::parse(text, planner_schema(), problems, OtherSections::ignored);
  PlannerConfig c;
  bind(tree, planner_schema(), &c);
  check_planner(c, &tree, problems);
  if (!problems.empty()) throw ConfigError(source_name, std::move(problems));
  return c;
}

PlannerConfig load_planner_config(const std::string& path) {
  return parse_planner_config(read_config_file(path), path);
}

PlannerConfig planner_defaults() {
  Problems ignored;
  PlannerConfig c;
  bind(Tree::parse("", planner_schema(), ignored), planner_schema(), &c);
  return c;
}

Problems validate_planner(const PlannerConfig& c) {
  Problems problems;
  check_planner(c, nullptr, problems);
  return problems;
}

}  // namespace labdesk::config
