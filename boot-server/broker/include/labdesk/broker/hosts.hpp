// The virtualization hosts as the broker sees them: their agents, their last measured load, and
// whether they answer (seed 004: query on demand, with a short cache and a timeout; a missed
// answer makes a host suspect, repeated misses mark it down until a later query succeeds).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "labdesk/broker/ports.hpp"

namespace labdesk::broker {

struct HostSpec {
  std::string name;
  std::int64_t capacity_mib = 0;
  std::int64_t reserved_mib = 0;
};

enum class HostState { up, suspect, down };

struct HostLoad {
  HostState state = HostState::up;
  double cpu = 0;      // 0..1
  double network = 0;  // 0..1
  double query_seconds = 0;
  std::map<std::string, double> desktop_cpu;  // desktop name → its share of the host's CPU, 0..1
  std::string accel;  // "kvm" | "tcg" as the agent last said; "" → not known yet
};

struct HostTableOptions {
  std::chrono::milliseconds cache_ttl{2000};
  int misses_to_down = 2;
  std::chrono::milliseconds retry_down_after{10000};
};

class HostTable {
 public:
  // agents[i] belongs to specs[i]; AgentPort implementations must be safe to call from any
  // thread (loads are queried in parallel).
  HostTable(std::vector<HostSpec> specs, std::vector<std::unique_ptr<AgentPort>> agents,
            const Clock& clock, HostTableOptions opt = {});

  [[nodiscard]] std::size_t size() const { return specs_.size(); }
  [[nodiscard]] const HostSpec& spec(std::size_t i) const { return specs_[i]; }
  AgentPort& agent(std::size_t i) { return *agents_[i]; }

  // Loads of all hosts, asking the agents whose cached answer is older than the TTL, all at once.
  std::vector<HostLoad> loads();
  [[nodiscard]] HostState state(std::size_t i) const;
  void report_failure(std::size_t i);
  void report_success(std::size_t i);

 private:
  struct Entry {
    HostLoad load;
    std::chrono::steady_clock::time_point measured{};
    int misses = 0;
  };
  std::vector<HostSpec> specs_;
  std::vector<std::unique_ptr<AgentPort>> agents_;
  const Clock& clock_;
  HostTableOptions opt_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
};

}  // namespace labdesk::broker
