#include <doctest/doctest.h>

#include "cluster_fixture.hpp"

#include <random>

#include "labdesk/allocator/balance.hpp"

using namespace labdesk::alloc;
using labdesk::alloc::test::hosts_of;

namespace {

void add(Cluster& c, const std::string& user, HostIndex host, Mib mib) { c.users.push_back({user, host, mib, mib}); }

}  // namespace

TEST_CASE("balance: even hosts stay as they are") {
  auto c = hosts_of({4096, 4096});
  add(c, "a", 0, 1024);
  add(c, "b", 1, 1024);
  c.hosts[0].cpu = 0.3;
  c.hosts[1].cpu = 0.2;
  CHECK_FALSE(pick_rebalance(c, {}).has_value());
  CHECK_FALSE(pick_rebalance(hosts_of({4096}), {}).has_value());  // one host: nowhere to go
}

TEST_CASE("balance: memory apart by more than the spread moves the desktop that evens them most, the latest on a tie") {
  auto c = hosts_of({4096, 4096});
  add(c, "a", 0, 1024);
  add(c, "b", 0, 1024);
  add(c, "c", 0, 1024);
  auto r = pick_rebalance(c, {});
  REQUIRE(r.has_value());
  CHECK(r->user == "c");
  CHECK(r->from == 0);
  CHECK(r->to == 1);
  CHECK(r->reason == "memory: host 'h0' holds 75%, host 'h1' 0% (spread above 25%); moving 1024 MiB of 'c'");
  // A desktop moved a moment ago stays: the next best goes.
  auto pinned = pick_rebalance(c, {}, {}, {"c"});
  REQUIRE(pinned.has_value());
  CHECK(pinned->user == "b");
  // Within the spread: nothing.
  CHECK_FALSE(pick_rebalance(c, {.memory_spread = 0.8}).has_value());
}

TEST_CASE("balance: no move that only flips the gap, none that does not fit, none to or from a host without room") {
  auto c = hosts_of({4096, 4096});
  add(c, "big", 0, 4096);
  CHECK_FALSE(pick_rebalance(c, {}).has_value());  // 100% vs 0% would become 0% vs 100%

  auto small = hosts_of({4096, 512});
  add(small, "a", 0, 1024);
  add(small, "b", 0, 2048);
  CHECK_FALSE(pick_rebalance(small, {}).has_value());  // neither fits on the small host

  auto drained = hosts_of({4096, 4096, 4096});
  drained.hosts[1].reserved_mib = 4096;  // the broker's view of a drained or down host
  add(drained, "a", 0, 1024);
  add(drained, "b", 0, 1024);
  add(drained, "c", 0, 1024);
  auto r = pick_rebalance(drained, {});
  REQUIRE(r.has_value());
  CHECK(r->to == 2);
}

TEST_CASE("balance: with memory even, CPU apart by more than the spread moves the busiest desktop that narrows it") {
  auto c = hosts_of({4096, 4096});
  add(c, "a", 0, 512);
  add(c, "b", 0, 512);
  add(c, "c", 1, 512);
  add(c, "d", 1, 512);
  c.hosts[0].cpu = 0.9;
  c.hosts[1].cpu = 0.1;
  auto r = pick_rebalance(c, {}, {{"a", 0.3}, {"b", 0.5}, {"c", 0.05}});
  REQUIRE(r.has_value());
  CHECK(r->user == "b");
  CHECK(r->to == 1);
  CHECK(r->reason == "CPU: host 'h0' at 90%, host 'h1' at 10% (spread above 50%); moving 'b', whose desktop uses 50%");
  // A desktop using more than the gap would only move the hot spot: none of them.
  CHECK_FALSE(pick_rebalance(c, {}, {{"a", 0.85}, {"b", 0.95}}).has_value());
  // Unmeasured desktops count as idle: moving them would not help.
  CHECK_FALSE(pick_rebalance(c, {}).has_value());
}

TEST_CASE("balance: repeated moves converge on random labs (no desktop goes back and forth forever)") {
  std::mt19937 rng(17);
  for (int lab = 0; lab < 200; ++lab) {
    auto c = hosts_of({4096, 4096, 8192});
    const int users = 1 + static_cast<int>(rng() % 12);
    for (int u = 0; u < users; ++u) {
      const Mib mib = 256 << (rng() % 3);
      add(c, "u" + std::to_string(u), rng() % 3, mib);
    }
    std::map<std::string, double> cpu;
    for (auto& h : c.hosts) h.cpu = static_cast<double>(rng() % 100) / 100;
    for (const auto& vm : c.users) cpu[vm.user] = static_cast<double>(rng() % 30) / 100;
    int moves = 0;
    while (auto r = pick_rebalance(c, {}, cpu)) {
      REQUIRE(moves < 50);
      for (auto& vm : c.users) {
        if (vm.user == r->user) {
          CHECK(vm.host == r->from);
          vm.host = r->to;
        }
      }
      // The caller's CPU figures follow the desktop.
      c.hosts[r->from].cpu -= cpu[r->user];
      c.hosts[r->to].cpu += cpu[r->user];
      ++moves;
    }
    Mib used[3] = {0, 0, 0};
    for (const auto& vm : c.users) used[vm.host] += vm.mib;
    for (int h = 0; h < 3; ++h) CHECK(used[h] <= c.hosts[static_cast<std::size_t>(h)].usable());
  }
}
