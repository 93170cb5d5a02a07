// Desktop forwards through real nftables: only the assigned client reaches its forwarded port,
// a handoff or roam switches it, the table is rebuilt from the store at start, admins' tables
// survive. Namespaces: lab (boot-server, br0), two clients on br0, a "virt host" behind it.
#include <doctest/doctest.h>

#include "lab_net.hpp"

namespace {

using namespace labdesk::test;

struct NatLab {
  Netns lab{unique("nlab")};
  Netns c1{unique("nc1"), false};
  Netns c2{unique("nc2"), false};
  Netns virt{unique("nvirt"), false};
  fs::path dir = scratch(unique("nat"));
  Child server;
  std::vector<Child> vnc;

  NatLab() {
    lab.attach(c1, unique("v1"), "10.77.0.101/24", "10.77.0.1");
    lab.attach(c2, unique("v2"), "10.77.0.102/24", "10.77.0.1");
    // The virt host has no route back to the lab subnet: replies only work through masquerade.
    sh("ip link add " + unique("vh") + "a netns " + lab.name() + " type veth peer name " + unique("vh") + "b netns " + virt.name());
    lab.run("ip addr add 10.88.0.1/24 dev " + unique("vh") + "a");
    lab.run("ip link set " + unique("vh") + "a up");
    virt.run("ip addr add 10.88.0.2/24 dev " + unique("vh") + "b");
    virt.run("ip link set " + unique("vh") + "b up");
    // Fake VNC servers: each answers with its own banner.
    for (const auto& [port, banner] : {std::pair{5900, "RFB-desktop-A"}, {5901, "RFB-desktop-B"}}) {
      vnc.emplace_back(std::vector<std::string>{"ip", "netns", "exec", virt.name(), "socat",
                                                "TCP-LISTEN:" + std::to_string(port) + ",fork,reuseaddr",
                                                std::string("SYSTEM:echo ") + banner},
                       dir / "socat.log");
    }
    // An admin's own table that must survive labdesk's rebuilds.
    lab.run("nft add table ip admin_rules");
    lab.run("nft add chain ip admin_rules input '{ type filter hook input priority 10; policy accept; }'");
    start();
  }
  void start() {
    std::ofstream(dir / "lab.toml") << lab_config(dir / "state");
    server = Child({"ip", "netns", "exec", lab.name(), boot_server_binary().string(), "-c", (dir / "lab.toml").string()},
                   dir / "server.log");
    REQUIRE_MESSAGE(poll([&] { return api("GET", "/v1/status").find("\"healthy\":true") != std::string::npos; }, 30s),
                    "boot-server did not come up: " << slurp(dir / "server.log"));
  }
  [[nodiscard]] std::string api(const std::string& method, const std::string& path, const std::string& body = "") const {
    return lab.out("curl -s --max-time 5 -X " + method + " http://127.0.0.1:7080" + path +
                   (body.empty() ? "" : " -H 'Content-Type: application/json' -d '" + body + "'"));
  }
  // What `from` reads from the lab address's port (empty when refused or dropped).
  static std::string reach(const Netns& from, int port) {
    return from.out("socat -T2 - TCP:10.77.0.1:" + std::to_string(port) + ",connect-timeout=2 </dev/null 2>/dev/null");
  }
};

TEST_CASE("only the assigned client reaches its forwarded desktop port, and handoff and roam switch it") {
  NatLab n;
  const std::string put = n.api("PUT", "/v1/forwards/15900",
                                R"({"session":"s1","client_ip":"10.77.0.101","target_ip":"10.88.0.2","target_port":5900})");
  REQUIRE_MESSAGE(put.find("\"port\":15900") != std::string::npos, put);
  CHECK(NatLab::reach(n.c1, 15900).find("RFB-desktop-A") != std::string::npos);
  CHECK(NatLab::reach(n.c2, 15900).empty());

  // Handoff: the same port now leads to the replacement desktop.
  CHECK(n.api("PUT", "/v1/forwards/15900", R"({"session":"s1","client_ip":"10.77.0.101","target_ip":"10.88.0.2","target_port":5901})").find("5901") != std::string::npos);
  CHECK(NatLab::reach(n.c1, 15900).find("RFB-desktop-B") != std::string::npos);
  // Roam: the user moved to the other PC.
  CHECK(n.api("PUT", "/v1/forwards/15900", R"({"session":"s1","client_ip":"10.77.0.102","target_ip":"10.88.0.2","target_port":5901})").find("10.77.0.102") != std::string::npos);
  CHECK(NatLab::reach(n.c2, 15900).find("RFB-desktop-B") != std::string::npos);
  CHECK(NatLab::reach(n.c1, 15900).empty());

  // Another session cannot take the port; a bad forward is a 4xx.
  CHECK(n.api("PUT", "/v1/forwards/15900", R"({"session":"s2","client_ip":"10.77.0.101","target_ip":"10.88.0.2","target_port":5900})")
            .find("port_in_use") != std::string::npos);
  CHECK(n.api("PUT", "/v1/forwards/80", R"({"session":"s2","client_ip":"10.77.0.101","target_ip":"10.88.0.2","target_port":5900})")
            .find("bad_forward") != std::string::npos);

  // Restart: the table is rebuilt from the store, the admin's table is untouched.
  n.server.stop();
  n.lab.run("nft flush table ip labdesk");  // as if a crash left it wrong
  n.start();
  // The table is back (rebuilt from the store; the broker then reconciles forwards to its own
  // sessions, so this session-less forward may be dropped), the admin's table is untouched, and
  // a forward set after the restart works.
  CHECK(poll([&] { return n.lab.out("nft list chain ip labdesk prerouting").find("dnat") != std::string::npos; }, 10s));
  CHECK(n.lab.out("nft list tables").find("admin_rules") != std::string::npos);
  std::this_thread::sleep_for(1s);  // let the broker's start-up reconcile finish
  CHECK(n.api("PUT", "/v1/forwards/15900", R"({"session":"s1","client_ip":"10.77.0.102","target_ip":"10.88.0.2","target_port":5901})").find("10.77.0.102") != std::string::npos);
  CHECK(NatLab::reach(n.c2, 15900).find("RFB-desktop-B") != std::string::npos);
  CHECK(NatLab::reach(n.c1, 15900).empty());

  // Session ended: nobody reaches the port any more.
  CHECK(n.api("DELETE", "/v1/forwards/15900").find("removed") != std::string::npos);
  CHECK(NatLab::reach(n.c2, 15900).empty());
  CHECK(n.api("GET", "/v1/forwards") == R"({"forwards":[]})");
}

TEST_CASE("lab clients' outbound traffic is masqueraded") {
  NatLab n;
  // The virt host has no route to 10.77.0.0/24, so this only answers through masquerade.
  CHECK(n.c1.out("socat -T2 - TCP:10.88.0.2:5900,connect-timeout=2 </dev/null 2>/dev/null").find("RFB-desktop-A") != std::string::npos);
}

}  // namespace
