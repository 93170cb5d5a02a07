// Random arrival/departure/grow sequences over random heterogeneous hosts, each plan executed by
// an independent checker that knows nothing of the planner's internals.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "labdesk/allocator/planner.hpp"

using namespace labdesk::alloc;

namespace {

struct VmRec {
  HostIndex host;
  Mib mib;
  Mib max;
  bool live;
};

// Executes steps literally: VMs are counted per user, hosts checked after every step.
class Checker {
 public:
  explicit Checker(const Cluster& c) : hosts_(c.hosts) {
    for (const auto& vm : c.users) vms_[vm.user].push_back({vm.host, vm.mib, vm.max_mib, true});
  }

  void run(const Plan& plan) {
    for (const auto& s : plan.steps) {
      REQUIRE(s.op != Op::reject);
      REQUIRE(s.host.has_value());
      auto& list = vms_[s.user];
      switch (s.op) {
        case Op::start:
          list.push_back({*s.host, s.mib, s.max_mib ? s.max_mib : s.mib, false});
          break;
        case Op::switch_to: {
          auto it = std::find_if(list.begin(), list.end(), [&](const VmRec& v) {
            return !v.live && v.host == *s.host && v.mib == s.mib;
          });
          REQUIRE(it != list.end());
          for (auto& v : list) v.live = false;
          it->live = true;
          break;
        }
        case Op::destroy: {
          // The non-live VM if there is one (old side of a handoff), else the live one.
          auto it = std::find_if(list.begin(), list.end(), [&](const VmRec& v) {
            return !v.live && v.host == *s.host && v.mib == s.mib;
          });
          if (it == list.end()) {
            it = std::find_if(list.begin(), list.end(),
                              [&](const VmRec& v) { return v.host == *s.host && v.mib == s.mib; });
          }
          REQUIRE(it != list.end());
          list.erase(it);
          break;
        }
        case Op::resize: {
          REQUIRE(list.size() == 1);
          REQUIRE(list[0].host == *s.host);
          REQUIRE(s.mib <= list[0].max);
          list[0].mib = s.mib;
          break;
        }
        case Op::reject: break;
      }
      check_capacity();
    }
    for (auto it = vms_.begin(); it != vms_.end();) {
      it = it->second.empty() ? vms_.erase(it) : std::next(it);
    }
  }

  void check_capacity() const {
    std::vector<Mib> used(hosts_.size(), 0);
    for (const auto& [u, list] : vms_) {
      for (const auto& v : list) used[v.host] += v.mib;
    }
    for (std::size_t h = 0; h < hosts_.size(); ++h) REQUIRE(used[h] <= hosts_[h].usable());
  }

  const std::map<std::string, std::vector<VmRec>>& vms() const { return vms_; }

 private:
  std::vector<Host> hosts_;
  std::map<std::string, std::vector<VmRec>> vms_;
};

Cluster random_hosts(std::mt19937& rng) {
  Cluster c;
  std::uniform_int_distribution<int> count(1, 6), cap(4, 64), reserved(0, 3), pct(0, 100);
  int n = count(rng);
  for (int i = 0; i < n; ++i) {
    Mib capacity = cap(rng) * 256;
    Mib res = std::min<Mib>(reserved(rng) * 256, capacity - 256);
    c.hosts.push_back({"h" + std::to_string(i), capacity, res, pct(rng) / 100.0, pct(rng) / 100.0});
  }
  return c;
}

std::vector<Mib> random_tiers(std::mt19937& rng, const Cluster& c) {
  Mib largest = 0;
  for (const auto& h : c.hosts) largest = std::max(largest, h.usable());
  std::uniform_int_distribution<int> count(1, 5);
  std::vector<Mib> tiers;
  Mib t = std::uniform_int_distribution<Mib>(1, largest / 128)(rng) * 128;
  for (int i = count(rng); i > 0 && t >= 128; --i) {
    tiers.push_back(t);
    t = std::uniform_int_distribution<Mib>(1, std::max<Mib>(1, t / 128 - 1))(rng) * 128;
    if (t >= tiers.back()) break;
  }
  return tiers;
}

std::set<Mib> tier_set(const Policy& p) { return {p.tiers.begin(), p.tiers.end()}; }

}  // namespace

TEST_CASE("property: thousands of random sequences keep every invariant") {
  std::mt19937 rng(20261121);
  int admitted = 0, rejected = 0, shrinks = 0, grows = 0;
  for (int seq = 0; seq < 1500; ++seq) {
    Cluster c = random_hosts(rng);
    Policy policy{random_tiers(rng, c),
                  std::bernoulli_distribution(0.3)(rng) ? Mode::balloon : Mode::handoff,
                  {0.5, 0.3, 0.2}};
    Planner planner(policy);
    TierTable table(c.hosts, policy.tiers);
    const auto tiers = tier_set(policy);
    int next_id = 0;
    for (int ev = 0; ev < 120; ++ev) {
      CAPTURE(seq);
      CAPTURE(ev);
      double r = std::uniform_real_distribution<double>(0, 1)(rng);
      std::map<std::string, Mib> before;
      for (const auto& vm : c.users) before[vm.user] = vm.mib;
      Plan plan;
      std::string who;
      enum { arrive, depart, grow } kind;
      if (r < 0.6 || c.users.empty()) {
        kind = arrive;
        who = "u" + std::to_string(next_id++);
        plan = planner.arrive(c, who).value();
      } else if (r < 0.93) {
        kind = depart;
        who = c.users[std::uniform_int_distribution<std::size_t>(0, c.users.size() - 1)(rng)].user;
        plan = planner.depart(c, who).value();
      } else {
        kind = grow;
        plan = planner.grow(c);
      }
      if (plan.rejected()) {
        REQUIRE(kind == arrive);
        ++rejected;
        // Never rejected while a host has an immediate hole for the newcomer's tier.
        Mib tier = table.size_for(c.users.size() + 1);
        std::vector<Mib> used(c.hosts.size(), 0);
        for (const auto& vm : c.users) used[vm.host] += vm.mib;
        for (std::size_t h = 0; h < c.hosts.size(); ++h) REQUIRE(c.hosts[h].usable() - used[h] < tier);
        continue;
      }
      Checker checker(c);
      checker.run(plan);
      // Exactly one live VM per admitted user; nobody dropped but the one who left.
      std::set<std::string> expected;
      for (const auto& [u, m] : before) expected.insert(u);
      if (kind == arrive) expected.insert(who);
      if (kind == depart) expected.erase(who);
      std::set<std::string> got;
      for (const auto& [u, list] : checker.vms()) {
        REQUIRE(list.size() == 1);
        REQUIRE(list[0].live);
        REQUIRE(tiers.contains(list[0].mib));
        got.insert(u);
      }
      REQUIRE(got == expected);
      // Sizes follow the tier rule.
      const std::size_t n = got.size();
      for (const auto& [u, list] : checker.vms()) {
        Mib now = list[0].mib;
        if (kind == arrive && u == who) {
          REQUIRE(now == table.size_for(n));
          ++admitted;
        } else if (before.contains(u) && now != before[u]) {
          REQUIRE(kind != depart);
          REQUIRE(now == table.size_for(n));
          if (kind == arrive) { REQUIRE(before[u] > now); ++shrinks; }
          if (kind == grow) { REQUIRE(before[u] < now); ++grows; }
        }
      }
      // The library's own apply agrees with the independent checker.
      auto next = planner.apply(c, plan);
      REQUIRE_MESSAGE(next.has_value(), next.error());
      for (const auto& vm : next->users) {
        const auto& rec = checker.vms().at(vm.user)[0];
        REQUIRE(rec.host == vm.host);
        REQUIRE(rec.mib == vm.mib);
      }
      c = std::move(*next);
    }
  }
  MESSAGE("admitted " << admitted << ", rejected " << rejected << ", shrinks " << shrinks
                      << ", grows " << grows);
  CHECK(admitted > 10000);
  CHECK(shrinks > 1000);
  CHECK(grows > 100);
  CHECK(rejected > 100);
}

TEST_CASE("property: equal hosts with halving tiers admit exactly floor(C / t_M) users") {
  std::mt19937 rng(7);
  for (int seq = 0; seq < 200; ++seq) {
    std::size_t s = std::uniform_int_distribution<std::size_t>(1, 8)(rng);
    Mib t0 = 256 << std::uniform_int_distribution<int>(0, 5)(rng);
    std::vector<Mib> tiers;
    for (Mib t = t0; t >= 128 && tiers.size() < 5; t /= 2) tiers.push_back(t);
    Cluster c;
    for (std::size_t i = 0; i < s; ++i) c.hosts.push_back({"h" + std::to_string(i), t0, 0, 0, 0});
    Planner planner(Policy{tiers, Mode::handoff, {}});
    TierTable table(c.hosts, tiers);
    const auto max_users = static_cast<std::size_t>(table.capacity() / tiers.back());
    for (std::size_t n = 1; n <= max_users; ++n) {
      CAPTURE(seq);
      CAPTURE(n);
      auto plan = planner.arrive(c, "u" + std::to_string(n)).value();
      REQUIRE_FALSE(plan.rejected());
      Checker(c).run(plan);
      c = planner.apply(c, plan).value();
    }
    REQUIRE(planner.arrive(c, "one-too-many")->rejected());
  }
}
