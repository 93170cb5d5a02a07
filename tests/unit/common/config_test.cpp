#include <doctest/doctest.h>

#include "labdesk/common/lab_config.hpp"
#include "schema_binding.hpp"

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

TEST_CASE("a minimal config gets every default from the table") {
  auto c = parse_lab_config("[[hosts]]\nname = \"a\"\ncapacity_mib = 8192\n", "lab.toml");
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
      "capacity_mib = \"lots\"\n"       // 7
      "[colour]\n"                      // 8
      "x = 1\n";
  auto msg = problems_of(text);
  CHECK(msg.find("lab.toml:2:14: tiers.mib[1]: tiers not descending: 2048 MiB in tiers.mib[1] is not below 1024 MiB") != std::string::npos);
  CHECK(msg.find("lab.toml:3:1: tiers.mdoe: unknown key 'mdoe': did you mean 'mode'?") != std::string::npos);
  CHECK(msg.find("hosts[0].name: host name 'a/b' is not usable") != std::string::npos);
  CHECK(msg.find("lab.toml:7:16: hosts[0].capacity_mib: expected a whole number, found a string") != std::string::npos);
  CHECK(msg.find("unknown section 'colour'") != std::string::npos);
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

TEST_CASE("the reference is generated from the schema table") {
  auto md = reference_markdown(lab_schema());
  CHECK(md.find("## [tiers]") != std::string::npos);
  CHECK(md.find("| `mib` | a list of whole numbers | `[4096, 2048, 1024, 512]` |") != std::string::npos);
  CHECK(md.find("## [[hosts]] (required)") != std::string::npos);
}

#include "golden.hpp"

TEST_CASE("docs/config.md is the schema table rendered (REGENERATE=1 rewrites it)") {
  std::string doc =
      "# labdesk configuration reference\n\n"
      "Generated from the schema table in common/src/lab_config.cpp by the unit tests "
      "(`REGENERATE=1 scripts/test` rewrites it); do not edit by hand.\n\n"
      "The boot-server reads one TOML file; `labdesk-plan --config FILE` reads the same file. "
      "Unknown sections and keys are errors, every problem is reported with its line and the "
      "fix, and `--check-config` (or `labdesk-plan check --config FILE`) checks a file without "
      "starting anything.\n\n" +
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
