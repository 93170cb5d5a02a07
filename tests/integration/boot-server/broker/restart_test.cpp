// Kill the boot-server midway and restart it, with real components: labdesk-boot-server (broker,
// SQLite on disk, nftables) and real labdesk-agent processes. While it is down a VM with no
// session appears and one session's VM disappears; after the restart we check from outside (the
// agents' lists, GET /v1/forwards, nft's maps, VNC through the forwards) that reconciliation left
// exactly the right VMs and forwards, ended the session without a VM and touched no data disk.
#include <doctest/doctest.h>
#include <signal.h>

#include <filesystem>
#include <iostream>
#include <sys/stat.h>

#include "real_lab.hpp"

using namespace labdesk;
using namespace labdesk::itest;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Data disks of every agent: path -> "inode" or, where no guest writes, "inode size sha256".
std::map<std::string, std::string> data_disks(const BrokerLab& lab, bool hash) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(lab.path())) {
    if (e.path().parent_path().filename() != "data" || e.path().extension() != ".qcow2") continue;
    struct stat st {};
    ::stat(e.path().c_str(), &st);
    std::string id = std::to_string(st.st_ino);
    if (hash) id += " " + std::to_string(st.st_size) + " " + capture("sha256sum < " + e.path().string());
    out[e.path().string()] = id;
  }
  return out;
}

// The invariants after reconciliation, checked against the agents and nftables.
void check_reconciled(BrokerLab& lab) {
  const json sessions = lab.sessions();
  const auto desktops = lab.running_desktops();
  INFO("sessions: " << sessions.dump());
  std::string listed;
  for (const auto& [name, where] : desktops) listed += name + "@" + where + " ";
  INFO("desktops: " << listed);
  // Every session has its desktop running on its host, and nothing else runs.
  CHECK(desktops.size() == sessions.size());
  std::set<std::string> users;
  for (const auto& s : sessions) {
    CHECK(users.insert(s["user"].get<std::string>()).second);  // one session per user
    auto it = desktops.find(s["desktop"].get<std::string>());
    REQUIRE_MESSAGE(it != desktops.end(), "session of " << s["user"] << " has no desktop");
    CHECK(it->second == s["host"].get<std::string>() + ":running");
  }
  // Forwards: the boot-server's table and nftables both hold exactly the sessions' forwards
  // (desktops without a VNC port, on test:///default, cannot be forwarded).
  std::set<std::string> want;
  for (const auto& f : BrokerLab::expected_forwards(sessions)) {
    if (!f.ends_with(":0")) want.insert(f);
  }
  CHECK(lab.api_forwards() == want);
  CHECK(lab.nft_forwards() == want);
}

bool has_user(const json& sessions, const std::string& user) {
  for (const auto& s : sessions) {
    if (s["user"] == user) return true;
  }
  return false;
}

std::vector<std::string> desktops_of(BrokerLab& lab, std::size_t agent, const std::string& user) {
  std::vector<std::string> out;
  auto r = lab.agent(agent).get_json("/v1/desktops");
  REQUIRE(r);
  for (const auto& d : *r) {
    if (d["user"] == user) out.push_back(d["name"]);
  }
  return out;
}

}  // namespace

TEST_CASE("broker restart, test:///default agents: boot-server SIGKILLed in a login burst, VMs changed behind its back") {
  BrokerLab lab(LabOptions{.libvirt_uri = "test:///default", .agents = 3, .capacity_mib = 1024,
                           .tiers = "[512, 256, 128]", .vnc_ready_seconds = 0, .pcs = 2});
  lab.start_server();
  for (const char* u : {"alice", "bob", "u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "carol"}) lab.add_user(u);
  lab.login(0, "alice");
  lab.login(1, "bob");

  // A burst of logins (the fifth arrival shrinks everybody by hard handoff); the boot-server is
  // killed as soon as the agents run more desktops than the two settled sessions.
  std::vector<std::unique_ptr<Child>> burst;
  for (int i = 0; i < 8; ++i) {
    burst.push_back(lab.login_async(i % 2, "u" + std::to_string(i), lab.path() + "/burst-" + std::to_string(i)));
  }
  REQUIRE(wait_until([&] { return lab.running_desktops().size() >= 4; }, 60s));
  lab.kill_server();
  for (auto& c : burst) c->stop(0, 30s);  // curl ends when the connection drops
  std::vector<std::string> answered;
  for (int i = 0; i < 8; ++i) {
    if (BrokerLab::answered_200(lab.path() + "/burst-" + std::to_string(i))) answered.push_back("u" + std::to_string(i));
  }
  MESSAGE("logins answered before the kill: " << answered.size() << " of 8, desktops then: " << lab.running_desktops().size());

  // Behind its back: a VM nobody owns, and bob's VM gone. The ghost goes to the first host with
  // room: the kill can catch a handoff with an old and a new 512 MiB desktop filling one host.
  std::string full;
  Result<json> ghost = fail("not_tried", "no agent asked");
  for (std::size_t a : {2U, 1U, 0U}) {
    ghost = lab.agent(a).post_json("/v1/desktops", {{"user", "mallory"}, {"session", "ghost"}, {"image", "desktop"},
                                                    {"memory_mib", 64}, {"tier", 2}});
    if (ghost) break;
    full += "agent " + std::to_string(a) + ": " + ghost.error().message + "; ";
  }
  REQUIRE_MESSAGE(ghost, full);
  int bob_gone = 0;
  for (std::size_t a = 0; a < 3; ++a) {
    for (const auto& name : desktops_of(lab, a, "bob")) bob_gone += lab.agent(a).send_json("DELETE", "/v1/desktops/" + name, nullptr) ? 1 : 0;
  }
  CHECK(bob_gone >= 1);
  const auto disks = data_disks(lab, true);

  lab.start_server();
  check_reconciled(lab);
  const json sessions = lab.sessions();
  CHECK(has_user(sessions, "alice"));
  CHECK_FALSE(has_user(sessions, "bob"));
  for (const auto& u : answered) CHECK_MESSAGE(has_user(sessions, u), u << " was answered 200 before the kill");
  CHECK_FALSE(lab.running_desktops().contains((*ghost)["name"].get<std::string>()));
  for (const auto& [path, id] : disks) CHECK_MESSAGE(data_disks(lab, true)[path] == id, "data disk changed: " << path);
  int bob_disks = 0;
  for (int a = 0; a < 3; ++a) bob_disks += fs::exists(lab.path() + "/agent" + std::to_string(a) + "/data/bob.qcow2") ? 1 : 0;
  CHECK(bob_disks >= 1);

  // The lab keeps working: bob logs in again, carol arrives, alice logs out.
  lab.login(1, "bob");
  lab.login(1, "carol");
  check_reconciled(lab);
}

TEST_CASE("broker restart, real libvirtd + TCG: boot-server SIGKILLed in the middle of a hard handoff") {
  BrokerLab lab(LabOptions{.libvirt_uri = "qemu:///system", .agents = 1, .capacity_mib = 1024,
                           .tiers = "[384, 256, 128]", .vnc_ready_seconds = 120, .pcs = 2});
  lab.start_server();
  for (const char* u : {"alice", "bob", "carol", "dave"}) lab.add_user(u);
  lab.login(0, "alice");
  lab.login(1, "bob");  // alice shrinks 384 -> 256 by handoff
  lab.login(1, "carol");
  REQUIRE(lab.sessions().size() == 3);
  const auto settled = lab.running_desktops();
  REQUIRE(settled.size() == 3);

  // dave's arrival shrinks all three to 128 MiB: three replacements, switches and destroys.
  // SIGKILL as soon as the first replacement runs (mid-plan).
  auto dave = lab.login_async(0, "dave", lab.path() + "/dave");
  REQUIRE_MESSAGE(wait_until([&] {
    for (const auto& [name, where] : lab.running_desktops()) {
      if (!settled.contains(name) && name.find("-dave-") == std::string::npos) return true;
    }
    return false;
  }, 240s), "no replacement desktop; dave's login: " << read_file(lab.path() + "/dave") << "\n" << lab.server_log());
  lab.kill_server();
  dave->stop(0, 30s);
  MESSAGE("desktops at the kill: " << lab.running_desktops().size() << ", dave answered: " << BrokerLab::answered_200(lab.path() + "/dave"));

  // Behind its back: carol's VMs destroyed, and a VM with no session (in the room that left:
  // a warm handoff in flight may fill the host).
  for (const auto& name : desktops_of(lab, 0, "carol")) REQUIRE(lab.agent(0).send_json("DELETE", "/v1/desktops/" + name, nullptr));
  auto ghost = lab.agent(0).post_json("/v1/desktops", {{"user", "mallory"}, {"session", "ghost"}, {"image", "desktop"},
                                                       {"memory_mib", 64}, {"tier", 2}});
  REQUIRE_MESSAGE(ghost, (ghost ? "" : ghost.error().message));
  const auto disks = data_disks(lab, false);  // running guests write their boot count: the same file

  lab.start_server();
  CHECK(lab.dnsmasq_pids().size() == 1);  // the killed boot-server's dnsmasq does not answer DHCP beside the new one
  check_reconciled(lab);
  const json sessions = lab.sessions();
  CHECK(has_user(sessions, "alice"));
  CHECK(has_user(sessions, "bob"));
  CHECK_FALSE(has_user(sessions, "carol"));
  if (BrokerLab::answered_200(lab.path() + "/dave")) CHECK(has_user(sessions, "dave"));
  CHECK_FALSE(lab.running_desktops().contains((*ghost)["name"].get<std::string>()));
  auto after = data_disks(lab, false);
  for (const auto& [path, id] : disks) CHECK_MESSAGE(after[path] == id, "data disk replaced: " << path);
  CHECK(fs::exists(lab.data_disk("carol")));

  // Each kept session's desktop answers through its forward, from its own PC, with the password
  // the boot-server hands out after the restart.
  for (const auto& s : sessions) {
    const int pc = s["client_ip"] == lab.pc_ip(0) ? 0 : 1;
    auto relogin = lab.login(pc, s["user"].get<std::string>());  // same PC: the session and desktop stay
    CHECK(relogin["session"] == s["id"]);
    CHECK_MESSAGE(vnc_login_from(lab.pc_ns(pc), "10.77.0.1", relogin["endpoint"]["port"].get<int>(),
                                 relogin["vnc_password"].get<std::string>()),
                  "no VNC through the forward for " << s["user"]);
  }
  // carol logs in again and gets a fresh desktop with her old data disk.
  lab.login(1, "carol");
  check_reconciled(lab);
  CHECK(data_disks(lab, false)[lab.data_disk("carol")] == disks.at(lab.data_disk("carol")));
}
