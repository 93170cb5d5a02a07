// Allocator decisions at lab scale, beside a naive first-fit planner in the same run.
//   decision/*: one arrival decision with 10,000 users connected over 1,000 hosts
//   day/*:      a day of arrivals and departures (plan + apply per event)
// p50/p99 are per-decision wall times in microseconds, reported as counters.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "labdesk/allocator/planner.hpp"
#include "naive_planner.hpp"

using namespace labdesk::alloc;

namespace {

constexpr std::size_t kHosts = 1000;
constexpr std::size_t kUsers = 10000;

Policy lab_policy() { return Policy{{8192, 4096, 2048, 1024, 512}, Mode::handoff, {}}; }

Cluster lab_hosts(std::mt19937& rng) {
  Cluster c;
  std::uniform_int_distribution<int> size(3, 8), pct(0, 100);
  for (std::size_t i = 0; i < kHosts; ++i) {
    c.hosts.push_back({"h" + std::to_string(i), size(rng) * 8192, 0, pct(rng) / 100.0, pct(rng) / 100.0});
  }
  return c;
}

// 10,000 users who arrived through the planner, so the state is one it would really be in.
const Cluster& connected_lab() {
  static const Cluster lab = [] {
    std::mt19937 rng(1);
    Cluster c = lab_hosts(rng);
    Planner p(lab_policy());
    for (std::size_t i = 0; i < kUsers; ++i) {
      c = p.apply(std::move(c), *p.arrive(c, "u" + std::to_string(i))).value();
    }
    return c;
  }();
  return lab;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

template <typename Decide>
void decision(benchmark::State& state, Decide decide) {
  Cluster c = connected_lab();
  std::mt19937 rng(2);
  std::vector<double> us;
  std::size_t id = 0;
  for (auto _ : state) {
    // Vary the state a little between decisions: one random user leaves each time.
    auto t0 = std::chrono::steady_clock::now();
    Plan plan = decide(c, "new" + std::to_string(id++));
    auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(plan);
    double secs = std::chrono::duration<double>(t1 - t0).count();
    state.SetIterationTime(secs);
    us.push_back(secs * 1e6);
    std::swap(c.users[std::uniform_int_distribution<std::size_t>(0, c.users.size() - 1)(rng)],
              c.users.back());
  }
  state.counters["p50_us"] = percentile(us, 0.50);
  state.counters["p99_us"] = percentile(us, 0.99);
  state.counters["users"] = static_cast<double>(c.users.size());
}

void BM_Decision_Labdesk(benchmark::State& state) {
  Planner p(lab_policy());
  decision(state, [&](const Cluster& c, const std::string& u) { return *p.arrive(c, u); });
}

void BM_Decision_NaiveFirstFit(benchmark::State& state) {
  Policy policy = lab_policy();
  decision(state, [&](const Cluster& c, const std::string& u) {
    return labdesk::bench::naive_arrive(c, policy, u);
  });
}

// A lab day: arrivals ramp up to ~10,000 connected users in the morning, churn at midday, and
// everyone leaves by evening; 30,000 events in all.
struct Event {
  bool arrive;
  std::string user;
};

std::vector<Event> lab_day() {
  std::mt19937 rng(3);
  std::vector<Event> day;
  std::vector<std::string> online;
  std::size_t id = 0;
  auto arrive = [&] { day.push_back({true, "d" + std::to_string(id)}); online.push_back("d" + std::to_string(id++)); };
  auto depart = [&] {
    std::size_t k = std::uniform_int_distribution<std::size_t>(0, online.size() - 1)(rng);
    std::swap(online[k], online.back());
    day.push_back({false, online.back()});
    online.pop_back();
  };
  for (std::size_t i = 0; i < kUsers; ++i) arrive();
  for (std::size_t i = 0; i < 5000; ++i) { depart(); arrive(); }
  while (!online.empty()) depart();
  return day;
}

template <typename Decide>
void day(benchmark::State& state, Decide decide) {
  static const std::vector<Event> events = lab_day();
  std::mt19937 rng(4);
  Planner p(lab_policy());
  std::vector<double> us;
  double rejected = 0;
  for (auto _ : state) {
    Cluster c = lab_hosts(rng);
    rejected = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& e : events) {
      auto te = std::chrono::steady_clock::now();
      auto plan = e.arrive ? decide(c, e.user) : p.depart(c, e.user).value_or(Plan{});
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - te).count());
      if (plan.rejected()) ++rejected;
      c = p.apply(std::move(c), plan).value();
    }
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  state.counters["events"] = static_cast<double>(events.size());
  state.counters["decision_p50_us"] = percentile(us, 0.50);
  state.counters["decision_p99_us"] = percentile(us, 0.99);
  state.counters["rejected"] = rejected;
}

void BM_Day_Labdesk(benchmark::State& state) {
  Planner p(lab_policy());
  day(state, [&](const Cluster& c, const std::string& u) { return *p.arrive(c, u); });
}

void BM_Day_NaiveFirstFit(benchmark::State& state) {
  Policy policy = lab_policy();
  day(state, [&](const Cluster& c, const std::string& u) {
    return labdesk::bench::naive_arrive(c, policy, u);
  });
}

}  // namespace

BENCHMARK(BM_Decision_Labdesk)->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(2000);
BENCHMARK(BM_Decision_NaiveFirstFit)->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(2000);
BENCHMARK(BM_Day_Labdesk)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_Day_NaiveFirstFit)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(2);

BENCHMARK_MAIN();
