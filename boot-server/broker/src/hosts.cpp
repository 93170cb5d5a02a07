#include "labdesk/broker/hosts.hpp"

#include <future>

namespace labdesk::broker {

HostTable::HostTable(std::vector<HostSpec> specs, std::vector<std::unique_ptr<AgentPort>> agents,
                     const Clock& clock, HostTableOptions opt)
    : specs_(std::move(specs)), agents_(std::move(agents)), clock_(clock), opt_(opt),
      entries_(specs_.size()) {
  if (specs_.size() != agents_.size()) {
    throw Failure(Error{"internal", "host table needs one agent per host", 500});
  }
}

std::vector<HostLoad> HostTable::loads() {
  auto now = clock_.now();
  std::vector<std::size_t> ask;
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const auto& e = entries_[i];
      auto age = now - e.measured;
      bool stale = e.measured == std::chrono::steady_clock::time_point{} || age >= opt_.cache_ttl;
      if (e.load.state == HostState::down) stale = age >= opt_.retry_down_after;
      if (stale) ask.push_back(i);
    }
  }
  std::vector<std::future<std::pair<Result<api::agent::LoadReport>, double>>> answers;
  for (auto i : ask) {
    answers.push_back(std::async(std::launch::async, [this, i] {
      auto t0 = std::chrono::steady_clock::now();
      auto r = agents_[i]->load();
      return std::pair{std::move(r), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
    }));
  }
  for (std::size_t k = 0; k < ask.size(); ++k) {
    auto [report, seconds] = answers[k].get();
    std::size_t i = ask[k];
    if (!report) {
      report_failure(i);
      std::lock_guard lock(mu_);
      entries_[i].measured = now;
      continue;
    }
    double net = 0;
    for (const auto& nic : report->nics) net = std::max(net, nic.utilization);
    std::lock_guard lock(mu_);
    entries_[i].load = HostLoad{HostState::up, report->cpu_pct / 100.0, net, seconds, {}, report->accel};
    for (const auto& d : report->desktops) {
      entries_[i].load.desktop_cpu[d.name] = d.cpu_pct / 100.0 / static_cast<double>(std::max<std::int64_t>(1, report->cpus));
    }
    entries_[i].measured = now;
    entries_[i].misses = 0;
  }
  std::lock_guard lock(mu_);
  std::vector<HostLoad> out;
  for (const auto& e : entries_) out.push_back(e.load);
  return out;
}

HostState HostTable::state(std::size_t i) const {
  std::lock_guard lock(mu_);
  return entries_[i].load.state;
}

void HostTable::report_failure(std::size_t i) {
  std::lock_guard lock(mu_);
  auto& e = entries_[i];
  ++e.misses;
  e.load.state = e.misses >= opt_.misses_to_down ? HostState::down : HostState::suspect;
}

void HostTable::report_success(std::size_t i) {
  std::lock_guard lock(mu_);
  entries_[i].misses = 0;
  if (entries_[i].load.state != HostState::up) entries_[i].load.state = HostState::up;
}

}  // namespace labdesk::broker
