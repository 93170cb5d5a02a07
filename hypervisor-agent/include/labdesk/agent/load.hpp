// On-demand load reports (seed 004): two samples `sample_ms` apart of host CPU (/proc/stat), NIC
// counters (libnl-route) and per-VM CPU time; requests arriving while a sample is being taken,
// or within `cache_ms` after it, share that sample.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>

#include "labdesk/common/api/agent.hpp"

namespace labdesk::agent {

struct VmSample {
  std::string name;
  std::uint64_t cpu_time_ns = 0;
  std::int64_t memory_kib = 0;
};

struct CpuTimes {
  std::uint64_t busy = 0;
  std::uint64_t total = 0;
};

struct NicCounters {
  std::string name;
  std::uint64_t rx = 0;
  std::uint64_t tx = 0;
  std::int64_t speed_mbps = 0;
};

// Parsers of the /proc files, separate for unit tests.
CpuTimes parse_proc_stat(const std::string& text);
// {total_kib, available_kib}
std::pair<std::int64_t, std::int64_t> parse_meminfo(const std::string& text);
// Every link's byte counters through libnl-route (speed from sysfs; 0 when unknown).
std::vector<NicCounters> read_nics();

class LoadSampler {
 public:
  using VmSource = std::function<std::vector<VmSample>()>;
  using CommittedSource = std::function<std::int64_t()>;
  using Reply = std::function<void(const api::agent::LoadReport&)>;

  LoadSampler(std::string host, std::chrono::milliseconds sample, std::chrono::milliseconds cache,
              VmSource vms, CommittedSource committed, std::shared_ptr<spdlog::logger> log);
  ~LoadSampler();
  LoadSampler(const LoadSampler&) = delete;
  LoadSampler& operator=(const LoadSampler&) = delete;

  // Calls reply (maybe on the sampler's thread) with a report no older than cache_ms.
  void request(Reply reply);
  // Blocking form for tools and tests.
  api::agent::LoadReport report();
  // Number of samples taken so far (tests check that a burst shares one).
  [[nodiscard]] std::uint64_t samples_taken() const;

 private:
  void run();
  api::agent::LoadReport sample();

  std::string host_;
  std::chrono::milliseconds sample_, cache_;
  VmSource vms_;
  CommittedSource committed_;
  std::shared_ptr<spdlog::logger> log_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Reply> waiting_;
  std::optional<api::agent::LoadReport> last_;
  std::chrono::steady_clock::time_point last_at_;
  std::uint64_t samples_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace labdesk::agent
