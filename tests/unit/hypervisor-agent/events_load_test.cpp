#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "labdesk/agent/events.hpp"
#include "labdesk/agent/load.hpp"
#include "labdesk/agent/png.hpp"
#include "labdesk/common/log.hpp"

using namespace labdesk;

TEST_CASE("events: seq grows, after() filters, waiters are answered by push or expire") {
  agent::EventLog log(3);
  CHECK(log.after(0).events.empty());
  std::vector<api::agent::EventBatch> got;
  auto id = log.wait(0, [&](api::agent::EventBatch b) { got.push_back(std::move(b)); });
  REQUIRE(id);
  CHECK(got.empty());
  log.push({.type = "started", .desktop = "ld-a-000000"});
  REQUIRE(got.size() == 1);
  CHECK(got[0].events.size() == 1);
  CHECK(got[0].next == 1);
  log.expire(*id);  // already answered: nothing more
  CHECK(got.size() == 1);
  for (int i = 0; i < 4; ++i) log.push({.type = "resized"});
  auto b = log.after(1);
  CHECK(b.events.size() == 3);  // ring of 3
  CHECK(b.events.front().seq == 3);
  CHECK(b.next == 5);
  auto id2 = log.wait(5, [&](api::agent::EventBatch x) { got.push_back(std::move(x)); });
  REQUIRE(id2);
  log.expire(*id2);
  REQUIRE(got.size() == 2);
  CHECK(got[1].events.empty());
  CHECK(got[1].next == 5);
  // A caller ahead of the log (agent restarted) gets everything kept.
  CHECK(log.after(99).events.size() == 3);
  CHECK_FALSE(log.wait(99, [](api::agent::EventBatch) {}).has_value());
}

TEST_CASE("load: /proc parsers") {
  auto t = agent::parse_proc_stat("cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 1 2 3\n");
  CHECK(t.total == 981);
  CHECK(t.busy == 161);
  auto [total, avail] = agent::parse_meminfo("MemTotal:  1000 kB\nMemFree: 100 kB\nMemAvailable:  600 kB\n");
  CHECK(total == 1000);
  CHECK(avail == 600);
  auto [t2, a2] = agent::parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 25 kB\n");
  CHECK(t2 == 1000);
  CHECK(a2 == 175);
  auto nics = agent::read_nics();
  bool lo = false;
  for (auto& n : nics) lo = lo || n.name == "lo";
  CHECK(lo);
}

TEST_CASE("load: a burst of requests shares one sample, per-VM CPU is time delta over wall delta") {
  std::atomic<std::uint64_t> cpu_ns{0};
  agent::LoadSampler sampler(
      "h1", std::chrono::milliseconds(100), std::chrono::milliseconds(10000),
      [&] {
        auto v = cpu_ns.fetch_add(50'000'000);  // +50 ms per 100 ms sample window
        return std::vector<agent::VmSample>{{"ld-a-000000", v, 512 * 1024}};
      },
      [] { return std::int64_t{512}; }, log::make_logger("agent-test", spdlog::level::off));
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&] {
      sampler.request([&](const api::agent::LoadReport& r) {
        CHECK(r.host == "h1");
        answered++;
      });
    });
  }
  for (auto& t : threads) t.join();
  auto r = sampler.report();
  CHECK(answered == 20);
  CHECK(sampler.samples_taken() == 1);
  CHECK(r.committed_mib == 512);
  CHECK(r.mem_total_mib > 0);
  CHECK(r.sample_window_s >= 0.09);
  REQUIRE(r.desktops.size() == 1);
  CHECK(r.desktops[0].memory_mib == 512);
  // 50 ms CPU over a ≥100 ms window: at most 50 %, and clearly above 0.
  CHECK(r.desktops[0].cpu_pct > 5.0);
  CHECK(r.desktops[0].cpu_pct <= 50.5);
  CHECK(r.cpu_pct >= 0.0);
  CHECK(r.cpu_pct <= 100.0);
}

TEST_CASE("png: a PPM becomes a PNG, garbage is an error") {
  std::string header = "P6\n# comment\n2 2\n255\n";
  std::vector<unsigned char> ppm(header.begin(), header.end());
  for (int i = 0; i < 12; ++i) ppm.push_back(static_cast<unsigned char>(i * 20));
  auto png = agent::ppm_to_png(ppm);
  REQUIRE(png);
  REQUIRE(png->size() > 8);
  CHECK((*png)[1] == 'P');
  CHECK((*png)[2] == 'N');
  CHECK((*png)[3] == 'G');
  std::vector<unsigned char> truncated(ppm.begin(), ppm.end() - 3);
  CHECK_FALSE(agent::ppm_to_png(truncated));
  std::string junk = "P3\n1 1\n255\n0 0 0";
  CHECK_FALSE(agent::ppm_to_png(std::vector<unsigned char>(junk.begin(), junk.end())));
}
