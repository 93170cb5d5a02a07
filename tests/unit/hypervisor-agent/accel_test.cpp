#include <doctest/doctest.h>

#include <string>

#include "../common/golden.hpp"
#include "fixture.hpp"
#include "labdesk/agent/accel.hpp"
#include "labdesk/agent/config.hpp"
#include "labdesk/agent/domain_xml.hpp"

using namespace labdesk;

namespace {
const agent::KvmProbe kKvm{true, ""};
const agent::KvmProbe kNoKvm{false, "'/dev/kvm': No such file or directory"};
}  // namespace

TEST_CASE("accel: auto takes KVM where it works and falls back to TCG with a warning naming why") {
  auto with = agent::choose_accel("auto", kKvm);
  REQUIRE(with);
  CHECK(with->accel == "kvm");
  CHECK(with->warning.empty());
  auto without = agent::choose_accel("auto", kNoKvm);
  REQUIRE(without);
  CHECK(without->accel == "tcg");
  CHECK(without->warning.find("'/dev/kvm': No such file or directory") != std::string::npos);
}

TEST_CASE("accel: forced kvm without KVM is refused with the fix, forced tcg never probes") {
  auto forced = agent::choose_accel("kvm", kNoKvm);
  REQUIRE_FALSE(forced);
  CHECK(forced.error().code == "kvm_unavailable");
  CHECK(forced.error().message.find("accel = \"auto\" or \"tcg\"") != std::string::npos);
  CHECK(agent::choose_accel("kvm", kKvm)->accel == "kvm");
  auto tcg = agent::choose_accel("tcg", kKvm);
  REQUIRE(tcg);
  CHECK(tcg->accel == "tcg");
  CHECK(tcg->warning.empty());
  CHECK(agent::choose_accel("hvf", kKvm).error().message == "unknown accel 'hvf': use \"auto\", \"kvm\" or \"tcg\"");
}

TEST_CASE("accel: the probe tells a missing device and a device that is not KVM from KVM") {
  auto missing = agent::probe_kvm("/nonexistent/kvm");
  CHECK_FALSE(missing.usable);
  CHECK(missing.reason.find("'/nonexistent/kvm': No such file or directory") != std::string::npos);
  auto not_kvm = agent::probe_kvm("/dev/null");
  CHECK_FALSE(not_kvm.usable);
  CHECK(not_kvm.reason.find("KVM_GET_API_VERSION") != std::string::npos);
}

TEST_CASE("accel: the config key takes auto, kvm or tcg and names anything else") {
  test::TempDir d;
  CHECK(agent::parse_agent_config(test::agent_toml(d.path), "agent.toml").accel == "auto");
  std::string bad = test::agent_toml(d.path);
  bad.replace(bad.find("max_restarts = 2"), 16, "accel = \"xen\"");
  try {
    agent::parse_agent_config(bad, "agent.toml");
    FAIL("accel 'xen' was accepted");
  } catch (const config::ConfigError& e) {
    CHECK(std::string(e.what()).find("unknown accel 'xen'") != std::string::npos);
  }
}

TEST_CASE("domain XML: a KVM desktop matches the golden file (kvm domain, the host's CPU model)") {
  auto s = test::desktop_spec("alice", 2048);
  s.vcpus = 2;
  s.accel = "kvm";
  auto xml = agent::render_domain_xml(s);
  CHECK(test::golden("tests/golden/hypervisor-agent/desktop-kvm.xml", xml) == "");
  CHECK(xml.find("<domain type='kvm'>") != std::string::npos);
  CHECK(xml.find("qemu64") == std::string::npos);
}
