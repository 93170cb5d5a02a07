#include <doctest/doctest.h>

#include "labdesk/common/planner_config.hpp"
#include "schema_binding.hpp"

using namespace labdesk::config;

namespace {
std::string problems_of(const std::string& text) {
  try {
    parse_planner_config(text, "lab.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("a minimal config gets every default from the table") {
  auto c = parse_planner_config("[[hosts]]\nname = \"a\"\ncapacity_mib = 8192\n", "lab.toml");
  CHECK(c.tiers.mib == std::vector<std::int64_t>{4096, 2048, 1024, 512});
  CHECK(c.tiers.mode == "handoff");
  CHECK(c.tiers.grace_seconds == 300);
  CHECK(c.placement.memory_weight == doctest::Approx(0.5));
  REQUIRE(c.hosts.size() == 1);
  CHECK(c.hosts[0].reserved_mib == 0);
}

TEST_CASE("every problem is reported at once, with position, key and fix") {
  std::string text =
      "[tiers]\n"                       // 1
      "mib = [1024, 2048, 16384]\n"     // 2
      "mdoe = \"handoff\"\n"            // 3
      "\n"
      "[[hosts]]\n"                     // 5
      "name = \"a/b\"\n"                // 6
      "capacity_mib = \"lots\"\n";      // 7
  auto msg = problems_of(text);
  CHECK(msg.find("lab.toml:2:14: tiers.mib[1]: tiers not descending: 2048 MiB in tiers.mib[1] is not below 1024 MiB") != std::string::npos);
  CHECK(msg.find("lab.toml:3:1: tiers.mdoe: unknown key 'mdoe': did you mean 'mode'?") != std::string::npos);
  CHECK(msg.find("hosts[0].name: host name 'a/b' is not usable") != std::string::npos);
  CHECK(msg.find("lab.toml:7:16: hosts[0].capacity_mib: expected a whole number, found a string") != std::string::npos);
}

TEST_CASE("the planner reads its own sections of a lab config and leaves the boot-server's alone") {
  std::string text =
      "[lab]\ninterface = \"br0\"\nnot_a_planner_key = 1\n"
      "[tiers]\nmib = [2048, 1024]\n"
      "[[hosts]]\nname = \"a\"\ncapacity_mib = 8192\n";
  auto c = parse_planner_config(text, "lab.toml");
  CHECK(c.tiers.mib == std::vector<std::int64_t>{2048, 1024});
  // Its own sections stay strict: a misspelt key there is still an error.
  CHECK(problems_of(text + "[placement]\ncpu_wieght = 1.0\n").find("unknown key 'cpu_wieght': did you mean 'cpu_weight'?") != std::string::npos);
}

TEST_CASE("no hosts, and a tier larger than every host") {
  CHECK(problems_of("[tiers]\nmib = [1024]\n").find("no [[hosts]] entries: add at least one [[hosts]] table") != std::string::npos);
  auto msg = problems_of("[tiers]\nmib = [8192, 512]\n[[hosts]]\nname = \"h\"\ncapacity_mib = 4096\n");
  CHECK(msg.find("tier 8192 MiB in tiers.mib[0] is larger than every host (largest usable: 'h' with 4096 MiB)") != std::string::npos);
}

TEST_CASE("missing required keys and duplicate names") {
  auto msg = problems_of("[[hosts]]\nname = \"a\"\n[[hosts]]\nname = \"a\"\ncapacity_mib = 1\n");
  CHECK(msg.find("hosts[0].capacity_mib: missing required key 'capacity_mib'") != std::string::npos);
  CHECK(msg.find("host name 'a' is used twice") != std::string::npos);
}

TEST_CASE("TOML syntax errors carry their position") {
  auto msg = problems_of("[tiers\nmib = 1\n");
  CHECK(msg.find("lab.toml:1:") != std::string::npos);
  CHECK(msg.find("not valid TOML") != std::string::npos);
}

TEST_CASE("a config built from flags gets the same checks") {
  PlannerConfig c = planner_defaults();
  CHECK(validate_planner(c).items().front().message == "no hosts: give at least one host with its capacity in MiB");
  c.hosts.push_back({"h", "", "", 4096, 0});
  c.tiers.mode = "shrink";
  auto p = validate_planner(c);
  REQUIRE(p.items().size() == 1);
  CHECK(p.items().front().message == "unknown tiers.mode 'shrink': use \"handoff\" or \"balloon\"");
}

TEST_CASE("every key of the planner's sections is declared once, bound to a member of its own") {
  labdesk::test::check_every_key_lands_in_its_own_member<PlannerConfig>(planner_schema());
}
