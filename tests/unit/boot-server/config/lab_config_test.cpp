#include <doctest/doctest.h>

#include "config/lab_config.hpp"
#include "../../common/golden.hpp"
#include "../../common/schema_binding.hpp"

using namespace labdesk::config;

namespace {
std::string problems_of(const std::string& text) {
  try {
    parse_lab_config(text, "lab.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("the boot-server's reader checks the planner's sections and its own, and knows no others") {
  std::string text =
      "[tiers]\n"                       // 1
      "mib = [1024, 2048]\n"            // 2
      "[lab]\n"                         // 3
      "dhcp = \"half\"\n"               // 4
      "[colour]\n"                      // 5
      "x = 1\n";
  auto msg = problems_of(text + "[[hosts]]\nname = \"a\"\ncapacity_mib = 4096\n");
  CHECK(msg.find("lab.toml:2:14: tiers.mib[1]: tiers not descending") != std::string::npos);
  CHECK(msg.find("lab.toml:4:8: lab.dhcp: unknown lab.dhcp 'half': use \"full\" or \"proxy\"") != std::string::npos);
  CHECK(msg.find("colour: unknown section 'colour'") != std::string::npos);
  CHECK(problems_of("[lab]\n").find("no [[hosts]] entries: add at least one [[hosts]] table") != std::string::npos);
}

TEST_CASE("a lab config's planner sections land in its PlannerConfig base") {
  auto c = parse_lab_config("[tiers]\nmib = [2048]\n[[hosts]]\nname = \"a\"\ncapacity_mib = 8192\n"
                            "[[hosts]]\nname = \"b\"\ncapacity_mib = 4096\n[nat]\nport_min = 20000\nport_max = 20100\n", "lab.toml");
  const PlannerConfig& planner = c;
  CHECK(planner.tiers.mib == std::vector<std::int64_t>{2048});
  REQUIRE(planner.hosts.size() == 2);
  CHECK(planner.hosts[1].name == "b");
  CHECK(c.nat.port_min == 20000);
  CHECK(c.boot.state_dir == "/var/lib/labdesk");
  CHECK(c.desktops.data == "per_host");
}

TEST_CASE("desktops.data is per_host or shared") {
  const std::string hosts = "[[hosts]]\nname = \"a\"\ncapacity_mib = 4096\n";
  CHECK(parse_lab_config(hosts + "[desktops]\ndata = \"shared\"\n", "lab.toml").desktops.data == "shared");
  CHECK(problems_of(hosts + "[desktops]\ndata = \"nfs\"\n").find("lab.toml:5:8: desktops.data: unknown desktops.data 'nfs': use \"per_host\" or \"shared\"") != std::string::npos);
}

TEST_CASE("rebalance: defaults, and each bad value named with its fix") {
  const std::string hosts = "[[hosts]]\nname = \"a\"\ncapacity_mib = 4096\n";
  auto c = parse_lab_config(hosts, "lab.toml");
  CHECK(c.rebalance.enabled);
  CHECK(c.rebalance.memory_spread == doctest::Approx(0.25));
  CHECK(c.rebalance.quiet_hours.empty());
  CHECK(parse_lab_config(hosts + "[rebalance]\nquiet_hours = \"22:00-06:30\"\n", "lab.toml").rebalance.quiet_hours == "22:00-06:30");
  CHECK(problems_of(hosts + "[rebalance]\nquiet_hours = \"8-17\"\n").find("rebalance.quiet_hours: quiet_hours '8-17' is not a time range: write it like \"08:00-17:30\"") != std::string::npos);
  CHECK(problems_of(hosts + "[rebalance]\nmemory_spread = 1.5\n").find("rebalance.memory_spread") != std::string::npos);
  CHECK(problems_of(hosts + "[rebalance]\ngrow_idle_seconds = 10\n").find("a connected viewer is heard from every 25 s") != std::string::npos);
  CHECK(problems_of(hosts + "[rebalance]\ninterval_seconds = 1\n").find("must be 5..3600") != std::string::npos);
  CHECK(parse_quiet_hours("08:00-17:30") == std::pair{480, 1050});
  CHECK_FALSE(parse_quiet_hours("08:00-08:00"));
  CHECK_FALSE(parse_quiet_hours("24:00-01:00"));
  CHECK_FALSE(parse_quiet_hours("08:00-17:30x"));
}

TEST_CASE("the reference is generated from the schema table") {
  auto md = reference_markdown(lab_schema());
  CHECK(md.find("## [tiers]") != std::string::npos);
  CHECK(md.find("| `mib` | a list of whole numbers | `[4096, 2048, 1024, 512]` |") != std::string::npos);
  CHECK(md.find("## [[hosts]] (required)") != std::string::npos);
}

TEST_CASE("docs/config.md is the schema table rendered (REGENERATE=1 rewrites it)") {
  std::string doc =
      "# labdesk configuration reference\n\n"
      "Generated from the schema tables in common/src/planner_config.cpp and "
      "boot-server/config/lab_config.cpp by the unit tests "
      "(`REGENERATE=1 scripts/test` rewrites it); do not edit by hand.\n\n"
      "The boot-server reads one TOML file; `labdesk-plan --config FILE` reads its own sections "
      "([tiers], [placement], [[hosts]]) from the same file and leaves the others to the "
      "boot-server. Unknown sections and keys are errors, every problem is reported with its "
      "line and the fix, and `labdesk-boot-server --check-config` checks the whole file without "
      "starting anything (`labdesk-plan check --config FILE` the planner's sections).\n\n" +
      reference_markdown(lab_schema());
  auto diff = labdesk::test::golden("docs/config.md", doc);
  CHECK_MESSAGE(diff.empty(), diff);
}

TEST_CASE("the example config in docs/ is valid") {
  auto c = load_lab_config(LABDESK_SOURCE_DIR "/docs/examples/lab.toml");
  CHECK(c.hosts.size() == 2);
  CHECK(c.tiers.mib.back() == 512);
}

TEST_CASE("every key of the lab schema is declared once, bound to a member of its own") {
  labdesk::test::check_every_key_lands_in_its_own_member<LabConfig>(lab_schema());
}
