#include <doctest/doctest.h>

#include <string>

#include "../common/golden.hpp"
#include "fixture.hpp"
#include "labdesk/agent/config.hpp"
#include "labdesk/agent/domain_xml.hpp"
#include "labdesk/agent/network.hpp"

using namespace labdesk;

namespace {

agent::NetworkSpec nat() { return {"nat", "labdesk", "labdesk0", "192.168.150.0/24", true}; }

std::string problems_of(const std::string& network_section) {
  test::TempDir d;
  try {
    agent::parse_agent_config(test::agent_toml(d.path) + network_section, "agent.toml");
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("network XML: the NAT network libvirt runs matches the golden file") {
  CHECK(test::golden("tests/golden/hypervisor-agent/network-nat.xml", agent::render_network_xml(nat())) == "");
  auto small = nat();
  small.subnet = "10.20.30.16/28";
  auto xml = agent::render_network_xml(small);
  CHECK(xml.find("<ip address='10.20.30.17' netmask='255.255.255.240'>") != std::string::npos);
  CHECK(xml.find("<range start='10.20.30.18' end='10.20.30.30'/>") != std::string::npos);
  auto bridged = nat();
  bridged.mode = "bridge";
  CHECK(agent::render_network_xml(bridged).empty());  // the admin's bridge is not libvirt's to run
}

TEST_CASE("network XML: a desktop's card on the NAT network or the admin's bridge, isolated by default") {
  CHECK(test::golden("tests/golden/hypervisor-agent/interface-nat.xml", agent::render_interface(nat())) == "");
  auto b = agent::NetworkSpec{"bridge", "labdesk", "br0", "", false};
  CHECK(test::golden("tests/golden/hypervisor-agent/interface-bridge.xml", agent::render_interface(b)) == "");
  CHECK(agent::render_interface(b).find("isolated") == std::string::npos);
  CHECK(agent::render_interface(agent::NetworkSpec{}).empty());  // mode none: no card
}

TEST_CASE("domain XML: a desktop on the NAT network matches the golden file") {
  auto s = test::desktop_spec("bob", 1024);
  s.meta.data_disk = "/var/lib/labdesk/data/bob.qcow2";
  s.network = nat();
  CHECK(test::golden("tests/golden/hypervisor-agent/desktop-network.xml", agent::render_domain_xml(s)) == "");
}

TEST_CASE("network config: NAT by default, and every bad value named with its fix") {
  test::TempDir d;
  auto c = agent::parse_agent_config(test::agent_toml(d.path), "agent.toml");
  CHECK(c.network == nat());
  CHECK(problems_of("[network]\nmode = \"vlan\"\n").find("unknown network mode 'vlan'") != std::string::npos);
  CHECK(problems_of("[network]\nsubnet = \"192.168.150.7/24\"\n").find("use '192.168.150.0/24'") != std::string::npos);
  CHECK(problems_of("[network]\nsubnet = \"10.0.0.0/8\"\n").find("must be /16../28") != std::string::npos);
  CHECK(problems_of("[network]\nsubnet = \"lab\"\n").find("is not an IPv4 network") != std::string::npos);
  CHECK(problems_of("[network]\nmode = \"bridge\"\nbridge = \"a-bridge-name-too-long\"\n").find("is not an interface name") != std::string::npos);
  CHECK(problems_of("[network]\nname = \"../x\"\n").find("network name '../x'") != std::string::npos);
  CHECK(problems_of("[network]\nmode = \"none\"\nsubnet = \"nonsense\"\n").empty());  // unused without NAT
  CHECK(problems_of("[network]\nmode = \"bridge\"\nbridge = \"br0\"\nisolated = false\n").empty());
}
