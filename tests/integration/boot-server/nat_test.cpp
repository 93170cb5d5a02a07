// Desktop forwards through real nftables: only the assigned client reaches its forwarded port,
// a handoff or roam switches it, a restart rebuilds the table from the sessions' forwards,
// admins' tables survive; a lab PC reaches the boot services and nothing else, and a hostile one
// cannot take the boot-server down. Namespaces: lab (boot-server, br0), two clients on br0, a
// "virt host" behind it. The forwards come from the broker's sessions (ForwardPort); here the
// test plays the broker, through the same ForwardTable and libnftables, inside the lab namespace.
#include <doctest/doctest.h>

#include "lab_net.hpp"
#include "nat/forward_table.hpp"
#include "labdesk/common/log.hpp"

namespace {

using namespace labdesk;
using namespace labdesk::test;

struct NatLab {
  Netns lab{unique("nlab")};
  Netns c1{unique("nc1"), false};
  Netns c2{unique("nc2"), false};
  Netns virt{unique("nvirt"), false};
  fs::path dir = scratch(unique("nat"));
  Child server;
  std::vector<Child> vnc;

  explicit NatLab(bool with_boot_server = true) {
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
    if (with_boot_server) start();
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

// The spec the boot-server derives from the lab's config (br0, 10.77.0.1/24, ports 15900..).
boot::NatSpec lab_spec(const NatLab& n) {
  std::ofstream(n.dir / "spec.toml") << lab_config(n.dir / "state");
  return boot::nat_spec(config::load_lab_config((n.dir / "spec.toml").string()));
}

TEST_CASE("only the assigned client reaches its forwarded desktop, handoff and roam switch it, nothing else is routed") {
  NatLab n(false);
  // A service on the boot-server that is not for lab PCs (as SSH would be), on every address.
  Child ssh({"ip", "netns", "exec", n.lab.name(), "socat", "TCP-LISTEN:2222,fork,reuseaddr", "SYSTEM:echo SSH-2.0"},
            n.dir / "ssh.log");
  REQUIRE(poll([&] { return n.lab.out("socat -T1 - TCP:10.77.0.1:2222 </dev/null 2>/dev/null").find("SSH") != std::string::npos; }, 5s));
  // What the boot-server does at start when NAT is on: forwarding in its namespace.
  n.lab.run("sysctl -qw net.ipv4.ip_forward=1");
  auto log = log::make_logger("nat-test", spdlog::level::warn);
  const broker::Forward a{15900, "10.77.0.101", "10.88.0.2", 5900};
  {
    InNetns in(n.lab);
    boot::LibNftables nft;
    boot::ForwardTable table(lab_spec(n), nft, log);
    REQUIRE(table.rebuild({a}));
  }
  CHECK(NatLab::reach(n.c1, 15900).find("RFB-desktop-A") != std::string::npos);
  CHECK(NatLab::reach(n.c2, 15900).empty());
  // Nothing routed: not the desktop's real address, not another desktop, not a service of the
  // boot-server that is not a boot service.
  for (const auto* pc : {&n.c1, &n.c2}) {
    CHECK(pc->out("socat -T2 - TCP:10.88.0.2:5900,connect-timeout=2 </dev/null 2>/dev/null").empty());
    CHECK(pc->out("socat -T2 - TCP:10.88.0.2:5901,connect-timeout=2 </dev/null 2>/dev/null").empty());
    CHECK(NatLab::reach(*pc, 2222).empty());
  }

  // A restart (a new process, as if a crash left the table wrong): one rebuild from the
  // sessions' forwards; then a handoff, a roam and the session's end, each one transaction.
  n.lab.run("nft flush table ip labdesk");
  CHECK(NatLab::reach(n.c1, 15900).empty());
  InNetns in(n.lab);
  boot::LibNftables nft;
  boot::ForwardTable table(lab_spec(n), nft, log);
  REQUIRE(table.rebuild({a}));
  CHECK(NatLab::reach(n.c1, 15900).find("RFB-desktop-A") != std::string::npos);
  CHECK(n.lab.out("nft list tables").find("admin_rules") != std::string::npos);
  REQUIRE(table.upsert({15900, "10.77.0.101", "10.88.0.2", 5901}));  // handoff
  CHECK(NatLab::reach(n.c1, 15900).find("RFB-desktop-B") != std::string::npos);
  REQUIRE(table.upsert({15900, "10.77.0.102", "10.88.0.2", 5901}));  // roam
  CHECK(NatLab::reach(n.c2, 15900).find("RFB-desktop-B") != std::string::npos);
  CHECK(NatLab::reach(n.c1, 15900).empty());
  CHECK(table.upsert({15901, "10.77.0.101", "10.88.0.2", 0}).error().code == "bad_forward");
  REQUIRE(table.remove(15900));  // the session ended
  CHECK(NatLab::reach(n.c2, 15900).empty());
  CHECK(n.lab.out("nft list map ip labdesk fwd_port").find("15900") == std::string::npos);
}

TEST_CASE("a lab PC reaches the boot services of a running boot-server, nothing else") {
  NatLab n;
  Child ssh({"ip", "netns", "exec", n.lab.name(), "socat", "TCP-LISTEN:2222,fork,reuseaddr", "SYSTEM:echo SSH-2.0"},
            n.dir / "ssh.log");
  REQUIRE(poll([&] { return n.lab.out("socat -T1 - TCP:10.77.0.1:2222 </dev/null 2>/dev/null").find("SSH") != std::string::npos; }, 5s));
  // The broker's start-up reconciliation built the table (no sessions yet: no forwards).
  CHECK(n.api("GET", "/v1/forwards") == R"({"forwards":[]})");
  CHECK(n.lab.out("nft list chain ip labdesk prerouting").find("dnat") != std::string::npos);
  CHECK(n.lab.out("nft list tables").find("admin_rules") != std::string::npos);
  for (const auto* pc : {&n.c1, &n.c2}) {
    CHECK(pc->out("socat -T2 - TCP:10.88.0.2:5900,connect-timeout=2 </dev/null 2>/dev/null").empty());
  }
  // On the boot-server: the boot and lab API ports answer, the rest is closed to the lab.
  CHECK(n.c2.out("curl -s --max-time 5 http://10.77.0.1:8080/boot.ipxe").find("#!ipxe") != std::string::npos);
  CHECK(n.c2.out("curl -s --max-time 5 -o /dev/null -w '%{http_code}' --cacert " + (n.dir / "state/tls/ca.crt").string() +
                 " https://10.77.0.1:8443/v1/login -d '{}'") == "400");
  CHECK(NatLab::reach(n.c2, 2222).empty());
  CHECK(NatLab::reach(n.c2, 7080).empty());
  CHECK(NatLab::reach(n.c2, 15900).empty());  // no session, no forward
  // Forwards are the broker's: the network plane's admin API only shows them.
  CHECK(n.api("PUT", "/v1/forwards/15900", R"({"client_ip":"10.77.0.101"})").find("\"error\"") != std::string::npos);
}

TEST_CASE("a hostile lab PC: bad paths, forged ids, a flood of connections and guesses leave the boot-server up") {
  NatLab n;
  const std::string lab = "http://10.77.0.1:8080";
  auto code = [&](const std::string& args) {
    return n.c2.out("curl -s -o /dev/null -w '%{http_code}' --max-time 5 " + args);
  };
  const std::string api = "--cacert " + (n.dir / "state/tls/ca.crt").string() + " https://10.77.0.1:8443";
  // Paths and ids that are not UTF-8 or carry control characters: a 4xx each, never a crash.
  CHECK(code(lab + "/%ff") == "404");
  CHECK(code("-X POST " + api + "/v1/sessions/%ff/logout") == "404");
  CHECK(code("-X POST " + api + "/v1/sessions/%ff%0a/credential -d '{}'") == "404");
  CHECK(code("-X POST " + lab + "/v1/announce -d '{\"mac\":\"52:54:00:00:00:01\\n\"}'") == "400");
  // Someone else's address in an announce is refused.
  CHECK(code("-X POST " + lab + "/v1/announce -d '{\"mac\":\"52:54:00:00:00:02\",\"ip\":\"10.77.0.101\",\"uptime_s\":1,\"cpu\":1,\"mem_mib\":512}'") == "403");
  // Many connections held open from one PC: past the per-PC limit they are closed, and another
  // PC is still served.
  Child flood({"ip", "netns", "exec", n.c2.name(), "sh", "-c",
               "for i in $(seq 1 200); do socat -T30 - TCP:10.77.0.1:8080 </dev/zero >/dev/null 2>&1 & done; wait"},
              n.dir / "flood.log");
  std::this_thread::sleep_for(2s);
  CHECK(n.c1.out("curl -s --max-time 5 " + lab + "/boot.ipxe").find("#!ipxe") != std::string::npos);
  flood.stop();
  // No password in clear: the lab API refuses plain HTTP; over HTTPS the boot-server proves
  // itself with a certificate from the lab CA that names its lab address.
  CHECK(code("-X POST " + lab + "/v1/login -d '{\"user\":\"alice\",\"password\":\"pw\"}'") == "403");
  CHECK(code("-X POST https://10.77.0.1:8443/v1/login -d '{}'") == "000");  // no lab CA: no trust
  CHECK(code("-X POST --resolve other:8443:10.77.0.1 --cacert " + (n.dir / "state/tls/ca.crt").string() +
             " https://other:8443/v1/login -d '{}'") == "000");  // a name the certificate does not hold
  CHECK(code("-X POST " + api + "/v1/login -d '{}'") == "400");
  // Wrong passwords from the stranger's PC under any client_id it likes.
  for (int i = 0; i < 8; ++i) {
    (void)code("-X POST " + api + "/v1/login -d '{\"user\":\"alice\",\"password\":\"guess\",\"client_id\":\"pc-" + std::to_string(i) + "\"}'");
  }
  CHECK(code("-X POST " + api + "/v1/login -d '{\"user\":\"alice\",\"password\":\"guess\"}'") == "429");
  // The boot-server and its dnsmasq are still up.
  CHECK(n.api("GET", "/v1/status").find("\"healthy\":true") != std::string::npos);
  CHECK(n.server.exited() < 0);
}

}  // namespace
