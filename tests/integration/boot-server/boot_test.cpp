// A diskless QEMU lab PC PXE-boots from a real labdesk-boot-server (real dnsmasq) in a fresh
// network namespace: lease, kernel + initramfs over HTTP, announce. BIOS and UEFI; dnsmasq
// killed and restarted.
#include <doctest/doctest.h>

#include <iostream>

#include "lab_net.hpp"

namespace {

using namespace labdesk::test;

struct Lab {
  Netns ns;
  fs::path dir;
  fs::path state;
  Child server;

  explicit Lab(const std::string& name) : ns(unique(name)), dir(scratch(name)), state(dir / "state") {
    std::ofstream(dir / "lab.toml") << lab_config(state);
    server = Child({"ip", "netns", "exec", ns.name(), boot_server_binary().string(), "-c", (dir / "lab.toml").string()},
                   dir / "server.log");
    // Up = start() finished (the status route answers while dnsmasq is still being started).
    REQUIRE_MESSAGE(poll([&] { return slurp(dir / "server.log").find("boot-server up") != std::string::npos &&
                                      api("/v1/status").find("\"healthy\":true") != std::string::npos; }, 30s),
                    "boot-server did not come up: " << slurp(dir / "server.log"));
  }
  [[nodiscard]] std::string api(const std::string& path) const {
    return ns.out("curl -s --max-time 5 http://127.0.0.1:7080" + path);
  }
  [[nodiscard]] bool leased(const std::string& mac) const { return slurp(state / "dnsmasq.leases").find(mac) != std::string::npos; }
  [[nodiscard]] bool announced(const std::string& mac) const { return api("/v1/clients/" + mac).find("\"announces\"") != std::string::npos; }

  // Boots one PC and returns {seconds to lease, seconds to announce}.
  std::pair<double, double> boot(const std::string& tap, const std::string& mac, bool uefi) {
    ns.add_tap(tap);
    const auto t0 = std::chrono::steady_clock::now();
    Child pc = lab_pc(ns, tap, mac, uefi, dir);
    double lease = -1;
    const bool ok = poll([&] {
      if (lease < 0 && leased(mac)) lease = seconds_since(t0);
      return announced(mac);
    }, 150s);
    const double announce = seconds_since(t0);
    INFO("serial: " << slurp(dir / ("serial-" + tap + ".log")));
    INFO("dnsmasq: " << slurp(state / "dnsmasq.log"));
    REQUIRE_MESSAGE(ok, "lab PC '" << mac << "' did not announce");
    CHECK(lease > 0);
    std::cout << "MEASURE " << (uefi ? "uefi" : "bios") << " pc " << mac << ": lease " << lease << " s, announce "
              << announce << " s after power-on (TCG)\n";
    std::ofstream(fs::path(LABDESK_BINARY_DIR) / "test-scratch/boot-times.txt", std::ios::app)
        << (uefi ? "uefi" : "bios") << " lease_s=" << lease << " announce_s=" << announce << "\n";
    return {lease, announce};
  }
};

TEST_CASE("a BIOS lab PC PXE-boots, gets a lease, loads kernel and initrd over HTTP and announces") {
  Lab lab("bsbios");
  lab.boot("tap0", "52:54:00:77:00:10", false);
  const std::string client = lab.api("/v1/clients/52:54:00:77:00:10");
  CHECK(client.find("\"ip\":\"10.77.0.") != std::string::npos);
  CHECK(client.find("\"mem_mib\":") != std::string::npos);
  // The kernel came over our HTTP server, not TFTP: dnsmasq served no kernel.
  CHECK(slurp(lab.state / "dnsmasq.log").find("vmlinuz") == std::string::npos);
  // PCs without iPXE in their ROM get the first stages over TFTP (QEMU's ROM is iPXE already,
  // so fetch them the way such a PC would).
  for (const char* stage : {"undionly.kpxe", "snponly.efi"}) {
    const std::string got = lab.ns.out(std::string("curl -s --tftp-blksize 1432 tftp://10.77.0.1/") + stage + " | sha256sum");
    const std::string want = capture(std::string("sha256sum < ") + (assets() / "ipxe" / stage).string());
    CHECK_MESSAGE(got == want, "TFTP " << stage);
  }
}

TEST_CASE("a UEFI (OVMF) lab PC PXE-boots and announces") {
  Lab lab("bsuefi");
  lab.boot("tap0", "52:54:00:77:00:20", true);
}

TEST_CASE("dnsmasq killed: the boot-server restarts it and a new PC still boots") {
  Lab lab("bskill");
  const std::string before = lab.api("/v1/status");
  const auto pid_at = before.find("\"pid\":");
  REQUIRE(pid_at != std::string::npos);
  const int pid = std::stoi(before.substr(pid_at + 6));
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  REQUIRE_MESSAGE(poll([&] {
    const std::string s = lab.api("/v1/status");
    return s.find("\"restarts\":1") != std::string::npos && s.find("\"healthy\":true") != std::string::npos;
  }, 20s), "dnsmasq not restarted: " << lab.api("/v1/status") << slurp(lab.dir / "server.log"));
  CHECK(lab.api("/v1/status").find("\"pid\":" + std::to_string(pid) + ",") == std::string::npos);
  lab.boot("tap1", "52:54:00:77:00:30", false);
}

}  // namespace
