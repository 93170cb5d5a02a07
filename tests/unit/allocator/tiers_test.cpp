#include <doctest/doctest.h>

#include "labdesk/allocator/tiers.hpp"

using namespace labdesk::alloc;

namespace {
std::vector<Host> equal_hosts(std::size_t s, Mib cap) {
  std::vector<Host> hosts;
  for (std::size_t i = 0; i < s; ++i) hosts.push_back({"h" + std::to_string(i), cap, 0, 0, 0});
  return hosts;
}
}  // namespace

TEST_CASE("paper thresholds for 2 servers are 1, 3, 7, 15") {
  CHECK(paper_threshold(0, 2) == 1);
  CHECK(paper_threshold(1, 2) == 3);
  CHECK(paper_threshold(2, 2) == 7);
  CHECK(paper_threshold(3, 2) == 15);
}

TEST_CASE("generalised U_m = floor(C/t_m) - 1 agrees with 2^m*S - 1 for equal hosts and halving tiers") {
  for (std::size_t s = 1; s <= 16; ++s) {
    for (Mib t0 : {512, 4096, 65536}) {
      std::vector<Mib> tiers;
      for (Mib t = t0; t >= 64; t /= 2) tiers.push_back(t);
      TierTable table(equal_hosts(s, t0), tiers);
      for (std::size_t m = 0; m < tiers.size(); ++m) {
        CAPTURE(s);
        CAPTURE(t0);
        CAPTURE(m);
        CHECK(table.thresholds()[m] == paper_threshold(m, static_cast<std::int64_t>(s)));
      }
    }
  }
}

TEST_CASE("tier_for picks the smallest m with n <= U_m, then the smallest tier") {
  TierTable table(equal_hosts(2, 4096), {4096, 2048, 1024, 512});
  CHECK(table.tier_for(1) == 0);
  CHECK(table.tier_for(2) == 1);
  CHECK(table.tier_for(3) == 1);
  CHECK(table.tier_for(4) == 2);
  CHECK(table.tier_for(7) == 2);
  CHECK(table.tier_for(8) == 3);
  CHECK(table.tier_for(15) == 3);
  CHECK(table.tier_for(16) == 3);  // the last slot
  CHECK(table.size_for(5) == 1024);
}

TEST_CASE("reserved memory lowers the usable capacity in the thresholds") {
  std::vector<Host> hosts{{"a", 4096, 1024, 0, 0}, {"b", 5120, 0, 0, 0}};
  TierTable table(hosts, {2048, 1024});
  CHECK(table.capacity() == 8192);
  CHECK(table.thresholds() == std::vector<std::int64_t>{3, 7});
}
