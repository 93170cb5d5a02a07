// Two real hosts (each its own libvirtd) on one data area: a user's desktop moves across hosts
// with its data, and survives its host's death: the host is marked down within seconds, the user
// gets a desktop on the other host with their data, and their viewer is told where it is.
#include <doctest/doctest.h>

#include <filesystem>
#include <iostream>

#include "real_lab.hpp"

using namespace labdesk;
using namespace labdesk::itest;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string host_state(BrokerLab& lab, const std::string& host) {
  auto r = lab.admin().get_json("/v1/admin/hosts");
  if (!r) return "?";
  for (const auto& h : *r) {
    if (h["name"] == host) return h["state"];
  }
  return "?";
}

// The boot count the user's data disk holds, as the guest of `desktop` last reported it.
int bootcount(BrokerLab& lab, std::size_t host, const std::string& desktop) {
  int n = -1;
  for (const auto& l : lines_with(lab.path() + "/agent" + std::to_string(host) + "/console/" + desktop + ".log", "LABDESK: ")) {
    auto at = l.find("bootcount=");
    if (at != std::string::npos && l.find("data=mounted") != std::string::npos) n = std::stoi(l.substr(at + 10));
  }
  return n;
}

// Overlays of desktops only: ".spare-*" is the never-used overlay an agent keeps ready.
bool only_spares(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.path().filename().string().starts_with(".spare-")) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("two hosts, one data area, real libvirtd + TCG: data follows a move across hosts, and a host's death costs a desktop but no data") {
  BrokerLab lab(LabOptions{.libvirt_uri = "qemu:///system", .agents = 2, .capacity_mib = 768, .tiers = "[256]",
                           .vnc_ready_seconds = 120, .pcs = 1, .shared_data = true});
  lab.start_server();
  lab.add_user("alice");
  const json a = lab.login(0, "alice");
  const int port = a["endpoint"]["port"];
  json s = lab.session_of("alice");
  CHECK(bootcount(lab, s["host"] == "host0" ? 0 : 1, s["desktop"]) == 1);

  // She has to be on host1 (the one that dies): an admin move there if placement chose host0, a
  // warm handoff across hosts whose data disk follows her.
  if (s["host"] == "host0") {
    auto moved = lab.admin().post_json("/v1/admin/sessions/" + s["id"].get<std::string>() + "/move", {{"host", "host1"}});
    REQUIRE_MESSAGE(moved, (moved ? "" : moved.error().message) << "\n" << lab.server_log());
    s = lab.session_of("alice");
    REQUIRE(s["host"] == "host1");
    REQUIRE(wait_until([&] { return bootcount(lab, 1, s["desktop"]) == 2; }, 60s));
  }
  const int before = bootcount(lab, 1, s["desktop"]);
  REQUIRE(before >= 1);

  // host1 dies: agent, libvirtd and alice's VM (a pulled plug).
  const auto t_dead = std::chrono::steady_clock::now();
  lab.kill_host(1);
  REQUIRE_MESSAGE(wait_until([&] { return host_state(lab, "host1") == "down"; }, 30s), lab.server_log());
  const double down_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_dead).count();
  CHECK(down_s <= 10);
  json moved;
  REQUIRE_MESSAGE(wait_until([&] {
    auto r = lab.pc_call(0, "GET", "/v1/sessions/" + a["session"].get<std::string>() + "/events?after=0", nullptr, a["token"], 30);
    if (r.status != 200) return false;
    for (const auto& e : r.body["events"]) {
      if (e["type"] == "moved" && e.value("reason", "").find("stopped answering") != std::string::npos) moved = e;
    }
    return !moved.is_null();
  }, 240s), lab.server_log());
  const auto t_told = std::chrono::steady_clock::now();
  REQUIRE(wait_until([&] { return vnc_login_from(lab.pc_ns(0), "10.77.0.1", port, moved["vnc_password"]); }, 60s));
  const auto t_back = std::chrono::steady_clock::now();

  // Her new desktop on host0 has her data: the boot count went on from what host1's desktop wrote.
  s = lab.session_of("alice");
  CHECK(s["host"] == "host0");
  CHECK(moved["endpoint"]["port"] == port);
  REQUIRE_MESSAGE(wait_until([&] { return bootcount(lab, 0, s["desktop"]) == before + 1; }, 60s),
                  read_file(lab.path() + "/agent0/console/" + s["desktop"].get<std::string>() + ".log"));
  CHECK(lab.nft_forwards() == BrokerLab::expected_forwards(lab.sessions()));
  // She logs out: nothing of hers is left running, no overlay, no forward; her data disk stays.
  auto out = lab.pc_call(0, "POST", "/v1/sessions/" + a["session"].get<std::string>() + "/logout", nullptr, a["token"]);
  CHECK(out.status == 204);
  CHECK(wait_until([&] {  // host1 is dead: only host0 answers
    auto r = lab.agent(0).get_json("/v1/desktops");
    return r && r->empty();
  }, 60s));
  CHECK(wait_until([&] { return fs::is_empty(lab.path() + "/agent0/overlays") || only_spares(lab.path() + "/agent0/overlays"); }, 30s));
  CHECK(lab.nft_forwards().empty());
  CHECK(fs::exists(lab.data_disk("alice")));
  const auto secs = [&](auto t) { return std::chrono::duration<double>(t - t_dead).count(); };
  std::cout << "MEASURE host death on TCG (2 hosts, shared data): marked down after " << down_s
            << " s, viewer told after " << secs(t_told) << " s, VNC login on the new desktop after " << secs(t_back)
            << " s\n";
}
