#include <doctest/doctest.h>

#include "cluster_fixture.hpp"

#include <numeric>

#include "labdesk/allocator/planner.hpp"

using namespace labdesk::alloc;
using labdesk::alloc::test::hosts_of;

namespace {

Policy paper_policy(Mode mode = Mode::handoff) {
  return Policy{{4096, 2048, 1024, 512}, mode, {}};
}

std::vector<Mib> sizes(const Cluster& c) {
  std::vector<Mib> out;
  for (const auto& vm : c.users) out.push_back(vm.mib);
  return out;
}

Mib free_total(const Cluster& c) {
  Mib cap = 0;
  for (const auto& h : c.hosts) cap += h.usable();
  for (const auto& vm : c.users) cap -= vm.mib;
  return cap;
}

Cluster arrive(const Planner& p, Cluster c, const std::string& user) {
  auto plan = p.arrive(c, user);
  REQUIRE(plan.has_value());
  REQUIRE_FALSE(plan->rejected());
  auto next = p.apply(std::move(c), *plan);
  REQUIRE_MESSAGE(next.has_value(), next.error());
  return *next;
}

}  // namespace

TEST_CASE("2 hosts x 4 GiB with tiers 4/2/1/0.5 GiB reproduce Table 3 of the paper") {
  // Sizes in MiB in connection order, and the memory left, for 1..16 users. The paper's row
  // for 9 users ([1 x7, 0.5 x2], 0.5 left) adds up to 8.5 GiB on 8 GiB of hosts; the rule
  // gives one more 1 GiB user shrunk to 0.5 GiB, which is also what rows 10..15 continue from.
  const Mib G = 1024, H = 512;
  const std::vector<std::pair<std::vector<Mib>, Mib>> table3{
      {{4 * G}, 4 * G},
      {{4 * G, 2 * G}, 2 * G},
      {{2 * G, 2 * G, 2 * G}, 2 * G},
      {{2 * G, 2 * G, 2 * G, G}, G},
      {{2 * G, 2 * G, G, G, G}, G},
      {{2 * G, G, G, G, G, G}, G},
      {{G, G, G, G, G, G, G}, G},
      {{G, G, G, G, G, G, G, H}, H},
      {{G, G, G, G, G, G, H, H, H}, H},  // the paper prints G x7, H x2 here (does not add up)
      {{G, G, G, G, G, H, H, H, H, H}, H},
      {{G, G, G, G, H, H, H, H, H, H, H}, H},
      {{G, G, G, H, H, H, H, H, H, H, H, H}, H},
      {{G, G, H, H, H, H, H, H, H, H, H, H, H}, H},
      {{G, H, H, H, H, H, H, H, H, H, H, H, H, H}, H},
      {{H, H, H, H, H, H, H, H, H, H, H, H, H, H, H}, H},
      {{H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H}, 0},
  };
  Planner p(paper_policy());
  Cluster c = hosts_of({4096, 4096});
  for (std::size_t n = 1; n <= table3.size(); ++n) {
    CAPTURE(n);
    c = arrive(p, std::move(c), "u" + std::to_string(n));
    CHECK(sizes(c) == table3[n - 1].first);
    CHECK(free_total(c) == table3[n - 1].second);
  }
  auto plan = p.arrive(c, "u17");
  REQUIRE(plan.has_value());
  CHECK(plan->rejected());
  CHECK(plan->steps.front().reason.find("no capacity") != std::string::npos);
}

TEST_CASE("the third arrival shrinks user 1 before the newcomer starts, never overcommitting") {
  Planner p(paper_policy());
  Cluster c = arrive(p, arrive(p, hosts_of({4096, 4096}), "u1"), "u2");
  auto plan = p.arrive(c, "u3");
  REQUIRE(plan.has_value());
  // u1's 2 GiB replacement starts beside u2, u1's 4 GiB VM goes, then u3 starts in the hole.
  REQUIRE(plan->steps.size() == 5);
  CHECK(plan->steps[0].op == Op::start);
  CHECK(plan->steps[0].user == "u1");
  CHECK(plan->steps[0].mib == 2048);
  CHECK(plan->steps[1].op == Op::switch_to);
  CHECK(plan->steps[2].op == Op::destroy);
  CHECK(plan->steps[2].user == "u1");
  CHECK(plan->steps[2].mib == 4096);
  CHECK(plan->steps[3].op == Op::start);
  CHECK(plan->steps[3].user == "u3");
  CHECK(plan->steps[3].host == plan->steps[2].host);
}

TEST_CASE("balloon mode shrinks live with one resize step and keeps the ceiling") {
  Planner p(paper_policy(Mode::balloon));
  Cluster c = arrive(p, arrive(p, hosts_of({4096, 4096}), "u1"), "u2");
  auto plan = p.arrive(c, "u3");
  REQUIRE(plan.has_value());
  REQUIRE(plan->steps.size() == 3);
  CHECK(plan->steps[0].op == Op::resize);
  CHECK(plan->steps[0].user == "u1");
  CHECK(plan->steps[0].mib == 2048);
  c = *p.apply(c, *plan);
  CHECK(c.users[0].max_mib == 4096);
  // Grow back after the others leave: a live resize up to the ceiling.
  c = *p.apply(c, *p.depart(c, "u2"));
  c = *p.apply(c, *p.depart(c, "u3"));
  auto grow = p.grow(c);
  REQUIRE(grow.steps.size() == 1);
  CHECK(grow.steps[0].op == Op::resize);
  CHECK(grow.steps[0].mib == 4096);
}

TEST_CASE("departures destroy one VM and nobody grows until asked") {
  Planner p(paper_policy());
  Cluster c = hosts_of({4096, 4096});
  for (int i = 1; i <= 4; ++i) c = arrive(p, std::move(c), "u" + std::to_string(i));
  CHECK(sizes(c) == std::vector<Mib>{2048, 2048, 2048, 1024});
  auto d = p.depart(c, "u2");
  REQUIRE(d.has_value());
  REQUIRE(d->steps.size() == 1);
  CHECK(d->steps[0].op == Op::destroy);
  c = *p.apply(c, *d);
  c = *p.apply(c, *p.depart(c, "u3"));
  CHECK(sizes(c) == std::vector<Mib>{2048, 1024});
  // Two users: tier 1 (2 GiB). u4 grows by handoff: start 2 GiB, switch, destroy 1 GiB.
  auto g = p.grow(c);
  REQUIRE(g.steps.size() == 3);
  CHECK(g.steps[0].op == Op::start);
  CHECK(g.steps[0].user == "u4");
  CHECK(g.steps[0].mib == 2048);
  c = *p.apply(c, g);
  CHECK(sizes(c) == std::vector<Mib>{2048, 2048});
  CHECK(p.depart(c, "nobody").error() == "user 'nobody' is not connected");
}

TEST_CASE("an already connected user cannot arrive twice") {
  Planner p(paper_policy());
  Cluster c = arrive(p, hosts_of({4096}), "u1");
  CHECK(p.arrive(c, "u1").error() == "user 'u1' is already connected");
}

TEST_CASE("fragmentation: a VM moves to open a hole instead of rejecting") {
  // Two 3 GiB hosts, each holding 2 GiB: 2 GiB free in total but 1 GiB per host. A 1 GiB user
  // moves so the other host has the 2 GiB hole.
  Cluster c = hosts_of({3072, 3072});
  c.users = {{"a", 0, 1024, 1024}, {"b", 0, 1024, 1024}, {"c", 1, 2048, 2048}};
  // A single 2 GiB tier: the fourth user takes the last slot, which only a move can open.
  Planner big(Policy{{2048}, Mode::handoff, {}});
  auto plan = big.arrive(c, "d");
  REQUIRE(plan.has_value());
  REQUIRE_FALSE(plan->rejected());
  auto next = big.apply(c, *plan);
  REQUIRE_MESSAGE(next.has_value(), next.error());
  CHECK(next->users.size() == 4);
  CHECK(next->users.back().mib == 2048);
}

TEST_CASE("placement prefers the host with the lowest memory, CPU and network score") {
  Planner p(Policy{{1024}, Mode::handoff, {0.0, 1.0, 0.0}});
  Cluster c = hosts_of({4096, 4096, 4096});
  c.hosts[0].cpu = 0.9;
  c.hosts[1].cpu = 0.1;
  c.hosts[2].cpu = 0.5;
  auto plan = p.arrive(c, "u1");
  REQUIRE(plan.has_value());
  CHECK(plan->steps[0].host == 1u);
  Planner by_net(Policy{{1024}, Mode::handoff, {0.0, 0.0, 1.0}});
  c.hosts[2].network = 0.0;
  c.hosts[0].network = c.hosts[1].network = 0.8;
  CHECK(by_net.arrive(c, "u1")->steps[0].host == 2u);
}

TEST_CASE("with no room beside the old VM anywhere, the handoff stops the old VM first") {
  // One host, full: the only way to shrink is destroy-then-start (a longer blackout, no overcommit).
  Planner p(Policy{{2048, 1024}, Mode::handoff, {}});
  Cluster c = hosts_of({3072});
  c.users = {{"a", 0, 2048, 2048}, {"b", 0, 1024, 1024}};
  auto plan = p.arrive(c, "x");
  REQUIRE(plan.has_value());
  REQUIRE_FALSE(plan->rejected());
  CHECK(plan->steps[0].op == Op::destroy);
  CHECK(plan->steps[0].user == "a");
  CHECK(plan->steps[1].op == Op::start);
  auto next = p.apply(c, *plan);
  REQUIRE_MESSAGE(next.has_value(), next.error());
  CHECK(sizes(*next) == std::vector<Mib>{1024, 1024, 1024});
}

TEST_CASE("apply refuses a plan that would overcommit a host") {
  Planner p(paper_policy());
  Cluster c = hosts_of({4096});
  Plan bad{{Step{Op::start, "a", 0, 4096, 0, {}}, Step{Op::switch_to, "a", 0, 4096, 0, {}},
            Step{Op::start, "b", 0, 512, 0, {}}}};
  auto r = p.apply(c, bad);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().find("over capacity") != std::string::npos);
}
