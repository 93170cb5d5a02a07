// Values the planner works on. Everything is supplied by the caller; nothing here does I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace labdesk::alloc {

using Mib = std::int64_t;
using HostIndex = std::size_t;

struct Host {
  std::string id;
  Mib capacity_mib = 0;
  Mib reserved_mib = 0;
  double cpu = 0;      // utilization 0..1, measured by the caller
  double network = 0;  // utilization 0..1, measured by the caller

  [[nodiscard]] Mib usable() const { return capacity_mib - reserved_mib; }
};

// One user's live desktop, in connection order within Cluster::users.
struct Vm {
  std::string user;
  HostIndex host = 0;
  Mib mib = 0;
  Mib max_mib = 0;  // balloon ceiling fixed at start; equals mib in handoff mode
};

struct Cluster {
  std::vector<Host> hosts;
  std::vector<Vm> users;  // oldest connection first
};

enum class Mode { handoff, balloon };

struct Weights {
  double memory = 0.5;
  double cpu = 0.3;
  double network = 0.2;
};

struct Policy {
  std::vector<Mib> tiers;  // strictly descending, validated by the caller (config layer)
  Mode mode = Mode::handoff;
  Weights weights;
};

enum class Op { start, switch_to, destroy, resize, reject };

// One executable step. A handoff is start(new) → switch_to(new) → destroy(old); when no host has
// room for the new VM beside the old one it is destroy(old) → start(new) → switch_to(new).
struct Step {
  Op op = Op::start;
  std::string user;
  std::optional<HostIndex> host;
  Mib mib = 0;
  Mib max_mib = 0;     // start only: the balloon ceiling (0: same as mib)
  std::string reason;  // reject only: why, in one sentence
};

struct Plan {
  std::vector<Step> steps;
  [[nodiscard]] bool rejected() const { return !steps.empty() && steps.front().op == Op::reject; }
};

const char* to_string(Op op);
const char* to_string(Mode mode);

}  // namespace labdesk::alloc
