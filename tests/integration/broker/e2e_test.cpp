// End to end through real components: labdesk-boot-server (broker, nftables forwards) and
// labdesk-agent on the sandbox's libvirtd with TCG desktops. User 1 logs in from lab PC 1 and
// reaches their VM's VNC through the boot-server's forwarded port; user 2's arrival makes the
// tiers shrink user 1, by hard handoff (and, in the balloon variant, live): the long-poll tells
// the viewer, the forward leads to the new VM, the old one is destroyed, and the blackout the
// viewer reports lands in /metrics.
#include <doctest/doctest.h>

#include <iostream>

#include "real_lab.hpp"

using namespace labdesk;
using namespace labdesk::itest;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::string auth_header(const std::string& token) { return "Authorization: Bearer " + token; }

// A long-poll for events after `after`, from lab PC `pc`, answered into `out`.
std::unique_ptr<Child> poll_events(BrokerLab& lab, int pc, const json& login, std::uint64_t after, const std::string& out) {
  return std::make_unique<Child>(
      std::vector<std::string>{"/usr/sbin/ip", "netns", "exec", lab.pc_ns(pc), "curl", "-s", "-m", "120", "-o", out, "-H",
                               auth_header(login["token"]),
                               "http://10.77.0.1:8080/v1/sessions/" + login["session"].get<std::string>() +
                                   "/events?after=" + std::to_string(after)},
      out + ".log");
}

json desktop_of(BrokerLab& lab, const std::string& user) {
  auto r = lab.agent(0).get_json("/v1/desktops");
  REQUIRE(r);
  json found;
  for (const auto& d : *r) {
    if (d["user"] == user) {
      CHECK_MESSAGE(found.is_null(), "two desktops for " << user << ": " << r->dump());
      found = d;
    }
  }
  REQUIRE_MESSAGE(!found.is_null(), "no desktop for " << user);
  return found;
}

double metric(const std::string& text, const std::string& name) {
  auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

}  // namespace

TEST_CASE("end to end on TCG: login, VNC through the forward, hard handoff when user 2 arrives, blackout measured") {
  BrokerLab lab(LabOptions{.libvirt_uri = "qemu:///system", .agents = 1, .capacity_mib = 1024,
                           .tiers = "[512, 256]", .mode = "handoff", .vnc_ready_seconds = 120, .pcs = 2});
  lab.start_server();
  lab.add_user("alice");
  lab.add_user("bob");

  const json a = lab.login(0, "alice");
  CHECK(a["tier_mib"] == 512);
  CHECK(a["endpoint"]["host"] == "10.77.0.1");
  const int port = a["endpoint"]["port"];
  const std::string pw1 = a["vnc_password"];
  const json first = desktop_of(lab, "alice");
  CHECK(first["memory_mib"] == 512);
  // RFB with VNC authentication through the boot-server's forward, from alice's PC only.
  CHECK(vnc_login_from(lab.pc_ns(0), "10.77.0.1", port, pw1));
  CHECK_FALSE(vnc_login_from(lab.pc_ns(1), "10.77.0.1", port, pw1));
  CHECK(lab.nft_forwards() == BrokerLab::expected_forwards(lab.sessions()));

  // alice's viewer waits for events; bob's login needs alice at 256 MiB.
  const std::string events = lab.path() + "/alice-events.json";
  auto poll = poll_events(lab, 0, a, 0, events);
  const json b = lab.login(1, "bob");
  CHECK(b["tier_mib"] == 256);
  json moved;
  REQUIRE_MESSAGE(wait_until([&] {
    auto j = json::parse(read_file(events), nullptr, false);
    if (j.is_discarded() || !j.contains("events") || j["events"].empty()) return false;
    moved = j["events"][0];
    return true;
  }, 120s), "no event for alice: " << read_file(events) << "\n" << lab.server_log());
  const auto t_moved = std::chrono::steady_clock::now();
  CHECK(moved["type"] == "moved");
  CHECK(moved["endpoint"]["port"] == port);  // the same lab port, now leading to the new VM
  const std::string pw2 = moved["vnc_password"];
  CHECK(pw2 != pw1);

  // The viewer reconnects; the time until the new desktop accepts it is the blackout it reports.
  REQUIRE(wait_until([&] { return vnc_login_from(lab.pc_ns(0), "10.77.0.1", port, pw2); }, 60s));
  const double blackout_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_moved).count();
  auto ack = lab.pc_call(0, "POST", "/v1/sessions/" + a["session"].get<std::string>() + "/ack",
                         {{"blackout_ms", blackout_ms}}, a["token"]);
  CHECK(ack.status == 200);

  // The old VM is gone, the new one has 256 MiB, the forward leads there and only there.
  const json second = desktop_of(lab, "alice");
  CHECK(second["name"] != first["name"]);
  CHECK(second["memory_mib"] == 256);
  CHECK(second["vnc"]["port"] != first["vnc"]["port"]);
  CHECK_FALSE(vnc_login_from(lab.pc_ns(0), "10.77.0.1", port, pw1));  // the old password was the old VM's
  const json sessions = lab.sessions();
  CHECK(lab.api_forwards() == BrokerLab::expected_forwards(sessions));
  CHECK(lab.nft_forwards() == BrokerLab::expected_forwards(sessions));
  CHECK(vnc_login_from(lab.pc_ns(1), "10.77.0.1", b["endpoint"]["port"].get<int>(), b["vnc_password"]));

  const std::string m = lab.metrics();
  CHECK(metric(m, "labdesk_handoffs_total") == 1);
  CHECK(metric(m, "labdesk_handoff_blackout_seconds_count") == 1);
  const double reported = metric(m, "labdesk_handoff_blackout_seconds_sum");
  CHECK(reported == doctest::Approx(blackout_ms / 1000).epsilon(0.01));
  std::cout << "MEASURE handoff blackout (moved event -> VNC login on the new VM through the forward, TCG): "
            << blackout_ms << " ms\n";
}

TEST_CASE("end to end on TCG, balloon mode: user 2's arrival resizes user 1 live, same VM and forward") {
  BrokerLab lab(LabOptions{.libvirt_uri = "qemu:///system", .agents = 1, .capacity_mib = 1024,
                           .tiers = "[512, 256]", .mode = "balloon", .vnc_ready_seconds = 120, .pcs = 2});
  lab.start_server();
  lab.add_user("alice");
  lab.add_user("bob");
  const json a = lab.login(0, "alice");
  const json first = desktop_of(lab, "alice");
  CHECK(first["max_memory_mib"] == 512);
  lab.login(1, "bob");
  const json same = desktop_of(lab, "alice");
  CHECK(same["name"] == first["name"]);
  CHECK(same["memory_mib"] == 256);  // the balloon target
  // The guest gives the memory back (the agent's balloon statistics).
  CHECK(wait_until([&] {
    auto r = lab.agent(0).get_json("/v1/desktops/" + first["name"].get<std::string>() + "/memory");
    return r && (*r)["actual_mib"].get<int>() <= 256 + 8;
  }, 120s));
  CHECK(vnc_login_from(lab.pc_ns(0), "10.77.0.1", a["endpoint"]["port"].get<int>(), a["vnc_password"]));
  const json sessions = lab.sessions();
  CHECK(lab.nft_forwards() == BrokerLab::expected_forwards(sessions));
  CHECK(metric(lab.metrics(), "labdesk_handoffs_total") == 0);
}
