// A bad config or a missing lab interface: a clear error, non-zero exit, and nothing started
// (no dnsmasq, no nftables table, no listening port).
#include <doctest/doctest.h>

#include "lab_net.hpp"

namespace {

using namespace labdesk::test;

struct Attempt {
  int code;
  std::string output;
};

Attempt run_server(const Netns& ns, const fs::path& dir, const std::string& config, const std::string& extra_flag = "") {
  std::ofstream(dir / "lab.toml", std::ios::trunc) << config;
  Child c({"ip", "netns", "exec", ns.name(), boot_server_binary().string(), "-c", (dir / "lab.toml").string(), extra_flag.empty() ? "--log-level=info" : extra_flag},
          dir / "out.log");
  const int code = c.wait(20s);
  Attempt a{code, slurp(dir / "out.log")};
  fs::remove(dir / "out.log");
  return a;
}

void nothing_started(const Netns& ns) {
  CHECK(capture("ip netns pids " + ns.name()).empty());
  CHECK(ns.out("nft list tables").find("labdesk") == std::string::npos);
  CHECK(ns.out("ss -lntu").find(":8080") == std::string::npos);
}

TEST_CASE("a malformed config is refused with a clear error and nothing starts") {
  Netns ns(unique("bscfg"));
  fs::path dir = scratch("bscfg");
  const std::string good = lab_config(dir / "state");

  auto a = run_server(ns, dir, good + "\n[lab\n");
  CHECK(a.code == 2);
  CHECK(a.output.find("lab.toml") != std::string::npos);
  nothing_started(ns);

  std::string bad = good;
  bad.replace(bad.find("range_end = \"10.77.0.200\""), 25, "range_end = \"10.99.0.200\"");
  a = run_server(ns, dir, bad + "[nat]\nport_min = 70000\n");
  CHECK(a.code == 2);
  CHECK(a.output.find("lab.range_end '10.99.0.200' is outside the lab subnet") != std::string::npos);
  CHECK(a.output.find("forward ports 70000..16899") != std::string::npos);
  nothing_started(ns);

  std::string typo = good;
  typo.replace(typo.find("[boot]\n"), 7, "[boot]\nhttp_prot = 80\n");
  a = run_server(ns, dir, typo);
  CHECK(a.code == 2);
  CHECK(a.output.find("http_prot") != std::string::npos);
  nothing_started(ns);

  // A config that parses but names an interface the machine lacks.
  std::string wrong_if = good;
  wrong_if.replace(wrong_if.find("\"br0\""), 5, "\"br9\"");
  a = run_server(ns, dir, wrong_if);
  CHECK(a.code == 2);
  CHECK(a.output.find("lab interface 'br9' does not exist") != std::string::npos);
  nothing_started(ns);

  // The address is not on the interface.
  std::string wrong_addr = good;
  wrong_addr.replace(wrong_addr.find("10.77.0.1/24"), 12, "10.77.0.9/24");
  a = run_server(ns, dir, wrong_addr);
  CHECK(a.code == 2);
  CHECK(a.output.find("does not carry lab.address '10.77.0.9/24'") != std::string::npos);
  nothing_started(ns);

  // --check-config on a good config says so and starts nothing.
  a = run_server(ns, dir, good, "--check-config");
  CHECK(a.code == 0);
  CHECK(a.output.find("is OK") != std::string::npos);
  nothing_started(ns);
}

TEST_CASE("SIGHUP reloads: a bad file keeps the running config, new reservations reach dnsmasq") {
  Netns ns(unique("bshup"));
  fs::path dir = scratch("bshup");
  const std::string good = lab_config(dir / "state");
  std::ofstream(dir / "lab.toml") << good;
  Child server({"ip", "netns", "exec", ns.name(), boot_server_binary().string(), "-c", (dir / "lab.toml").string()}, dir / "server.log");
  auto status = [&] { return ns.out("curl -s --max-time 5 http://127.0.0.1:7080/v1/status"); };
  REQUIRE(poll([&] { return slurp(dir / "server.log").find("boot-server up") != std::string::npos &&
                            status().find("\"healthy\":true") != std::string::npos; }, 30s));
  // ip netns exec execs the server in place, so the child's PID is the server's.
  std::ofstream(dir / "lab.toml", std::ios::trunc) << good << "[lab\n";
  server.signal(SIGHUP);
  REQUIRE(poll([&] { return slurp(dir / "server.log").find("reload refused") != std::string::npos; }, 10s));
  CHECK(server.exited() < 0);
  std::ofstream(dir / "lab.toml", std::ios::trunc)
      << good << "\n[[reservations]]\nmac = \"52:54:00:77:00:99\"\nip = \"10.77.0.99\"\nname = \"pc99\"\n";
  server.signal(SIGHUP);
  REQUIRE(poll([&] { return slurp(dir / "state/dnsmasq.hosts").find("52:54:00:77:00:99,10.77.0.99,pc99") != std::string::npos; }, 10s));
  auto reads = [&] {
    const std::string log = slurp(dir / "state/dnsmasq.log"), needle = "read " + (dir / "state/dnsmasq.hosts").string();
    int n = 0;
    for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  };
  CHECK(poll([&] { return reads() >= 2; }, 10s));  // read at start, and again on SIGHUP
  // SIGTERM drains and exits cleanly, taking dnsmasq with it.
  server.signal(SIGTERM);
  CHECK(server.wait(15s) == 0);
  CHECK(capture("ip netns pids " + ns.name()).empty());
}

}  // namespace
