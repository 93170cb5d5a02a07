// The desktops' network on a real host (libvirt's NAT network the agent has it run, TCG guests):
// a desktop gets an address, reaches a server on the hosts' side, and cannot reach another
// desktop on the same host, which the host itself can (the bridge's port isolation, not a dead
// guest, is what stops it).
#include <doctest/doctest.h>

#include <regex>

#include "real_lab.hpp"

using namespace labdesk;
using namespace labdesk::itest;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

int sh(const std::string& cmd) { return run({"/bin/sh", "-c", cmd}); }

std::string console_log(BrokerLab& lab, std::size_t host, const std::string& desktop) {
  return lab.agent_dir(host) + "/console/" + desktop + ".log";
}

// The address the guest's DHCP hook reported ("LABDESK: net eth0 ip=A router=R").
std::string guest_ip(BrokerLab& lab, std::size_t host, const std::string& desktop) {
  static const std::regex re(R"(LABDESK: net eth0 ip=([0-9.]+))");
  std::string ip;
  wait_until([&] {
    for (const auto& l : lines_with(console_log(lab, host, desktop), "LABDESK: net eth0")) {
      std::smatch m;
      if (std::regex_search(l, m, re)) ip = m[1];
    }
    return !ip.empty();
  }, 90s);
  return ip;
}

// Runs `command` in the guest's shell on its serial console and returns its exit status, which
// the guest prints after a marker the typed line itself does not contain.
int in_guest(BrokerLab& lab, std::size_t host, const std::string& desktop, const std::string& tag, const std::string& command) {
  lab.type_on_console(host, desktop, command + "; echo \"RESULT-\"" + tag + "=$?");
  const std::string marker = "RESULT-" + tag + "=";
  std::string line;
  wait_until([&] {
    auto lines = lines_with(console_log(lab, host, desktop), marker);
    for (const auto& l : lines) {
      if (l.find("echo") == std::string::npos) line = l;  // not the echo of the typed line
    }
    return !line.empty();
  }, 60s);
  REQUIRE_MESSAGE(!line.empty(), "no " << marker << " from '" << desktop << "':\n" << read_file(console_log(lab, host, desktop)));
  return std::stoi(line.substr(line.find(marker) + marker.size()));
}

}  // namespace

TEST_CASE("desktops on the host's NAT network: an address, a server on the hosts' side, never another desktop") {
  BrokerLab lab(LabOptions{.libvirt_uri = "qemu:///system", .agents = 1, .capacity_mib = 768, .tiers = "[256]",
                           .vnc_ready_seconds = 120, .pcs = 2, .network = "nat", .console_input = true});
  // A server beyond the host (a campus file or licence server): an address only the host routes to.
  REQUIRE(sh("ip addr add 10.99.0.1/32 dev lo") == 0);
  Child campus({"/usr/bin/socat", "TCP-LISTEN:7000,bind=10.99.0.1,fork,reuseaddr", "SYSTEM:echo campus-hello"},
               lab.path() + "/campus.log");
  lab.start_server();
  lab.add_user("alice");
  lab.add_user("bob");
  lab.login(0, "alice");
  lab.login(1, "bob");
  const std::string alice = lab.session_of("alice")["desktop"];
  const std::string bob = lab.session_of("bob")["desktop"];

  const std::string alice_ip = guest_ip(lab, 0, alice);
  const std::string bob_ip = guest_ip(lab, 0, bob);
  REQUIRE_MESSAGE(alice_ip.starts_with("192.168.150."), read_file(console_log(lab, 0, alice)));
  REQUIRE_MESSAGE(bob_ip.starts_with("192.168.150."), read_file(console_log(lab, 0, bob)));
  CHECK(alice_ip != bob_ip);

  // The server on the hosts' side answers the desktop.
  CHECK(in_guest(lab, 0, alice, "campus", "nc -w 5 10.99.0.1 7000 </dev/null | grep -q campus-hello") == 0);
  // The host reaches bob (his network stack is up), alice does not (isolated ports), also not
  // through the host (libvirt's NAT forwards only to the outside).
  CHECK(sh("busybox ping -c 2 -W 2 " + bob_ip + " >/dev/null") == 0);
  CHECK(in_guest(lab, 0, alice, "bob", "ping -c 2 -W 2 " + bob_ip + " >/dev/null") != 0);
  CHECK(in_guest(lab, 0, bob, "alice", "ping -c 2 -W 2 " + alice_ip + " >/dev/null") != 0);
  CHECK(in_guest(lab, 0, bob, "gateway", "ping -c 1 -W 2 192.168.150.1 >/dev/null") == 0);

  // The agent says what it runs the desktops with.
  auto load = lab.agent(0).get_json("/v1/load");
  REQUIRE(load);
  CHECK(((*load)["accel"] == "tcg" || (*load)["accel"] == "kvm"));
  sh("ip addr del 10.99.0.1/32 dev lo");
}
