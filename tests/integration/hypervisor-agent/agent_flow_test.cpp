// labdesk-agent against a real libvirtd (started by the sandbox) with tiny TCG guests: the whole
// life of a desktop, crashes, agent restarts and libvirtd restarts.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <fstream>

#include "../lib/helpers.hpp"
#include "labdesk/http/client.hpp"

using namespace labdesk;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kToken = "integration-token-0123456789";
const std::string kSandbox = std::string(LABDESK_SOURCE_DIR) + "/tests/integration/lib/sandbox.sh";
// TCG guests on two shared cores: generous limits, always polled.
constexpr auto kBoot = 240s;

struct AgentUnderTest {
  itest::ScratchDir dir;
  std::unique_ptr<itest::Child> proc;
  std::unique_ptr<http::Client> client;
  int starts = 0;

  AgentUnderTest() {
    const std::string guest = std::string(LABDESK_BINARY_DIR) + "/tests/agent-guest";
    REQUIRE(itest::run({std::string(LABDESK_SOURCE_DIR) + "/tests/integration/lib/mkguest.sh", guest}) == 0);
    fs::create_directories(dir.path + "/images");
    for (const char* f : {"vmlinuz", "initrd.cpio.gz", "base.qcow2"}) {
      fs::copy_file(guest + "/" + f, dir.path + "/images/" + f);
    }
    std::ofstream(dir.path + "/token") << kToken << "\n";
    std::filesystem::permissions(dir.path + "/token", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::ofstream(dir.path + "/agent.toml")
        << "[agent]\nhost = \"itest\"\nport = 17400\ntoken_file = \"" << dir.path << "/token\"\n"
        << "[libvirt]\nuri = \"qemu:///system\"\n"
        << "[storage]\nimages_dir = \"" << dir.path << "/images\"\noverlay_dir = \"" << dir.path << "/overlays\"\n"
        << "data_dir = \"" << dir.path << "/data\"\nconsole_dir = \"" << dir.path << "/console\"\ndata_disk_mib = 64\n"
        << "[desktops]\ncapacity_mib = 2048\nvnc_listen = \"127.0.0.1\"\nmax_restarts = 3\n"
        << "[load]\nsample_ms = 200\n"
        << "[[images]]\nname = \"tiny\"\nbase = \"base.qcow2\"\nkernel = \"vmlinuz\"\ninitrd = \"initrd.cpio.gz\"\n"
        << "cmdline = \"console=ttyS0 panic=-1 quiet\"\nready_line = \"LABDESK: ready\"\n";
    client = std::make_unique<http::Client>("http://127.0.0.1:17400",
                                            http::ClientOptions{.bearer_token = kToken, .timeout = 60s});
  }

  void start() {
    proc = std::make_unique<itest::Child>(
        std::vector<std::string>{std::string(LABDESK_BINARY_DIR) + "/hypervisor-agent/labdesk-agent", "-c",
                                 dir.path + "/agent.toml"},
        dir.path + "/agent.log");
    ++starts;
    REQUIRE_MESSAGE(itest::wait_until([&] { return health() == "connected"; }, 60s), itest::read_file(dir.path + "/agent.log"));
  }

  std::string health() {
    auto h = client->get_json("/v1/health");
    return h ? (*h)["libvirt"].get<std::string>() : "down";
  }

  json create(const std::string& user, int mem, int max) {
    auto r = client->post_json("/v1/desktops", {{"user", user}, {"session", "sess-" + user}, {"image", "tiny"},
                                                {"memory_mib", mem}, {"max_memory_mib", max}, {"tier", 0}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    return *r;
  }

  std::string console(const std::string& name) const { return dir.path + "/console/" + name + ".log"; }
  std::string overlay(const std::string& name) const { return dir.path + "/overlays/" + name + ".qcow2"; }

  // Waits for the n-th "LABDESK: ready" line of a desktop's serial console.
  std::string ready_line(const std::string& name, std::size_t n) {
    std::vector<std::string> lines;
    bool ok = itest::wait_until([&] {
      lines = itest::lines_with(console(name), "LABDESK: ready");
      return lines.size() >= n;
    }, kBoot);
    REQUIRE_MESSAGE(ok, "no ready line " << n << " from '" << name << "':\n" << itest::read_file(console(name)));
    return lines[n - 1];
  }

  std::vector<std::string> overlay_files() const {
    std::vector<std::string> out;
    // Desktop overlays only: ".spare-*" is the never-used overlay kept ready for the next start.
    for (const auto& e : fs::directory_iterator(dir.path + "/overlays")) {
      auto f = e.path().filename().string();
      if (!f.starts_with(".spare-")) out.push_back(f);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

int qemu_pid(const std::string& name) {
  auto text = itest::read_file("/run/libvirt/qemu/" + name + ".pid");
  return text.empty() ? 0 : std::stoi(text);
}

json events_after(http::Client& c, std::uint64_t after) {
  auto r = c.get_json("/v1/events?after=" + std::to_string(after));
  REQUIRE(r);
  return *r;
}

}  // namespace

TEST_CASE("agent on libvirtd: create, VNC password, balloon, crash restart, overlay thrown away, data kept, agent restart") {
  AgentUnderTest a;
  a.start();

  // create → the guest boots with both disks
  auto d = a.create("alice", 384, 512);
  const std::string name = d["name"];
  const std::string password = d["vnc"]["password"];
  const int port = d["vnc"]["port"];
  CHECK(port >= 5900);
  CHECK(d["ready"] == false);  // QEMU runs; the guest has not drawn its desktop yet
  auto first = a.ready_line(name, 1);
  CHECK((*a.client->get_json("/v1/desktops/" + name))["ready"] == true);
  CHECK(first.find("user=alice session=sess-alice") != std::string::npos);
  CHECK(first.find("data=mounted bootcount=1 overlay=fresh") != std::string::npos);
  CHECK(fs::exists(a.dir.path + "/data/alice.qcow2"));

  // A second writer of alice's data disk (another host's QEMU, when hosts share one data area)
  // is refused by QEMU's image lock while her desktop runs (docs/data.md).
  const std::string second_writer = "qemu-io -f qcow2 -c 'write -P 0 0 512' " + a.dir.path +
                                    "/data/alice.qcow2 >" + a.dir.path + "/second-writer.log 2>&1";
  CHECK(itest::run({"/bin/sh", "-c", second_writer}) == 1);  // qemu-io: the device cannot be opened
  CHECK_MESSAGE(itest::read_file(a.dir.path + "/second-writer.log").find("\"write\" lock") != std::string::npos,
                itest::read_file(a.dir.path + "/second-writer.log"));

  // VNC answers with the password and refuses a wrong one
  CHECK(itest::vnc_login("127.0.0.1", port, password));
  CHECK_FALSE(itest::vnc_login("127.0.0.1", port, "wrong123"));

  // a fresh console password replaces the old one and opens new connections only while valid
  auto fresh = a.client->post_json("/v1/desktops/" + name + "/console", {{"valid_seconds", 4}});
  REQUIRE_MESSAGE(fresh, (fresh ? "" : fresh.error().message));
  const std::string rotated = (*fresh)["password"];
  CHECK((*fresh)["port"] == port);
  CHECK(rotated != password);
  CHECK(itest::vnc_login("127.0.0.1", port, rotated));
  CHECK_FALSE(itest::vnc_login("127.0.0.1", port, password));
  std::this_thread::sleep_for(std::chrono::seconds(6));
  CHECK_FALSE(itest::vnc_login("127.0.0.1", port, rotated));  // expired
  auto renewed = a.client->post_json("/v1/desktops/" + name + "/console", json::object());
  REQUIRE(renewed);
  CHECK(itest::vnc_login("127.0.0.1", port, (*renewed)["password"].get<std::string>()));

  // a balloon resize shows in the memory statistics (and in the guest)
  auto resized = a.client->post_json("/v1/desktops/" + name + "/memory", {{"memory_mib", 256}});
  REQUIRE(resized);
  CHECK((*resized)["requested_mib"] == 256);
  json mem;
  CHECK_MESSAGE(itest::wait_until([&] {
    auto m = a.client->get_json("/v1/desktops/" + name + "/memory");
    if (m) mem = *m;
    return m && (*m)["actual_mib"].get<int>() <= 260;
  }, 120s), mem.dump());
  CHECK(itest::wait_until([&] {
    auto lines = itest::lines_with(a.console(name), "memtotal_mib=");
    return !lines.empty() && std::stoi(lines.back().substr(lines.back().find('=') + 1)) < 256;
  }, 60s));

  // load report sees the desktop
  auto load = a.client->get_json("/v1/load");
  REQUIRE(load);
  CHECK((*load)["host"] == "itest");
  CHECK((*load)["committed_mib"] == 256);
  // accel = "auto": KVM where this machine has it, TCG otherwise, and the domain says the same.
  const std::string accel = ::access("/dev/kvm", R_OK | W_OK) == 0 ? "kvm" : "tcg";
  CHECK((*load)["accel"] == accel);
  CHECK((*a.client->get_json("/v1/health"))["accel"] == accel);
  CHECK(itest::run({"/bin/sh", "-c", "virsh -c qemu:///system dumpxml " + name + " | grep -q \"<domain type='" +
                                         (accel == "kvm" ? "kvm" : "qemu") + "'\""}) == 0);
  REQUIRE((*load)["desktops"].size() == 1);
  CHECK((*load)["desktops"][0]["name"] == name);

  // kill the qemu process → reported and restarted with the same data disk, a fresh overlay
  const std::uint64_t seen = events_after(*a.client, 0)["next"];
  const int pid = qemu_pid(name);
  REQUIRE(pid > 0);
  REQUIRE(kill(pid, SIGKILL) == 0);
  json restarted;
  REQUIRE(itest::wait_until([&] {
    const json batch = events_after(*a.client, seen);
    for (const auto& e : batch["events"]) {
      if (e["type"] == "restarted") restarted = e;
    }
    return !restarted.is_null();
  }, 120s));
  auto types = events_after(*a.client, seen)["events"];
  CHECK(types[0]["type"] == "crashed");
  CHECK(types[0]["user"] == "alice");
  auto second = a.ready_line(name, 2);
  CHECK((*a.client->get_json("/v1/desktops/" + name))["ready"] == true);  // this boot's line, not the first one's
  CHECK(second.find("bootcount=2 overlay=fresh history=2") != std::string::npos);  // data kept, root fresh
  const std::string new_password = restarted["vnc"]["password"];
  CHECK(new_password != password);
  CHECK(itest::vnc_login("127.0.0.1", restarted["vnc"]["port"], new_password));
  auto after_crash = a.client->get_json("/v1/desktops/" + name);
  REQUIRE(after_crash);
  CHECK((*after_crash)["restarts"] == 1);
  CHECK((*after_crash)["memory_mib"] == 256);

  // restart the agent while the VM runs: same desktops, orphans swept, nothing leaked
  std::ofstream(a.overlay("ld-ghost-abcdef")) << "left by a crash";
  const int qemu_before = qemu_pid(name);
  CHECK(a.proc->stop(SIGTERM) == 0);
  CHECK(kill(qemu_before, 0) == 0);  // the desktop kept running without its agent
  a.start();
  auto list = a.client->get_json("/v1/desktops");
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  CHECK((*list)[0]["name"] == name);
  CHECK((*list)[0]["user"] == "alice");
  CHECK((*list)[0]["session"] == "sess-alice");
  CHECK((*list)[0]["restarts"] == 1);
  CHECK(qemu_pid(name) == qemu_before);
  CHECK(itest::wait_until([&] { return a.overlay_files() == std::vector<std::string>{name + ".qcow2"}; }, 10s));

  // the rebuilt agent still reacts to crashes of desktops it did not start
  REQUIRE(kill(qemu_before, SIGKILL) == 0);
  CHECK(itest::wait_until([&] {
    auto g = a.client->get_json("/v1/desktops/" + name);
    return g && (*g)["restarts"] == 2;
  }, 120s));
  CHECK(a.ready_line(name, 3).find("bootcount=3 overlay=fresh") != std::string::npos);

  // destroy: overlay and qemu gone, data disk kept and used by the next desktop of the user
  auto del = a.client->send_json("DELETE", "/v1/desktops/" + name, json::object());
  REQUIRE(del);
  CHECK(itest::wait_until([&] { return qemu_pid(name) == 0; }, 30s));
  CHECK_FALSE(fs::exists(a.overlay(name)));
  CHECK(fs::exists(a.dir.path + "/data/alice.qcow2"));
  // Let go: the next writer may open it (the first 512 bytes are ext4's unused boot sector).
  CHECK(itest::run({"/bin/sh", "-c", second_writer}) == 0);
  auto again = a.create("alice", 256, 256);
  const std::string name2 = again["name"];
  CHECK(name2 != name);
  CHECK(a.ready_line(name2, 1).find("bootcount=4 overlay=fresh") != std::string::npos);
  REQUIRE(a.client->send_json("DELETE", "/v1/desktops/" + name2, json::object()));
  CHECK(itest::wait_until([&] { return a.overlay_files().empty(); }, 30s));
  auto empty = a.client->get_json("/v1/desktops");
  REQUIRE(empty);
  CHECK(empty->empty());
  CHECK(a.proc->stop(SIGTERM) == 0);
}

TEST_CASE("agent on libvirtd: a handoff's replacement boots without the data disk and gets it once the old desktop lets go") {
  AgentUnderTest a;
  a.start();
  auto old_desktop = a.create("alice", 256, 256);
  const std::string old_name = old_desktop["name"];
  CHECK(a.ready_line(old_name, 1).find("data=mounted bootcount=1") != std::string::npos);

  auto r = a.client->post_json("/v1/desktops", {{"user", "alice"}, {"session", "sess-alice"}, {"image", "tiny"},
                                                {"memory_mib", 256}, {"max_memory_mib", 256}, {"data_later", true}});
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  const std::string name = (*r)["name"];
  CHECK((*r)["data_attached"] == false);
  CHECK(a.ready_line(name, 1).find("data=later bootcount=0") != std::string::npos);

  // The old desktop holds the disk: refused by the agent itself ...
  auto held = a.client->post_json("/v1/desktops/" + name + "/data", json::object());
  REQUIRE_FALSE(held);
  CHECK(held.error().status == 409);
  CHECK(held.error().code == "data_in_use");
  REQUIRE(a.client->send_json("DELETE", "/v1/desktops/" + old_name, json::object()));
  // ... and by QEMU's image lock while another writer (as another host's desktop would) has it.
  const std::string disk = a.dir.path + "/data/alice.qcow2";
  itest::Child holder({"/bin/sh", "-c", "sleep 60 | qemu-io -f qcow2 " + disk}, a.dir.path + "/holder.log");
  REQUIRE(itest::wait_until([&] {
    return itest::run({"/bin/sh", "-c", "qemu-img info " + disk + " >/dev/null 2>&1"}) != 0;  // locked
  }, 20s));
  auto locked = a.client->post_json("/v1/desktops/" + name + "/data", json::object());
  REQUIRE_FALSE(locked);
  CHECK(locked.error().status == 409);
  CHECK(locked.error().message.find("\"write\" lock") != std::string::npos);
  itest::run({"/usr/bin/pkill", "-KILL", "-f", "qemu-io -f qcow2 " + disk});
  holder.stop(SIGKILL);
  REQUIRE(itest::wait_until([&] { return itest::run({"/bin/sh", "-c", "qemu-img info " + disk + " >/dev/null 2>&1"}) == 0; }, 20s));

  const auto asked = std::chrono::steady_clock::now();
  auto in = a.client->post_json("/v1/desktops/" + name + "/data", json::object());
  REQUIRE_MESSAGE(in, (in ? "" : in.error().message));
  CHECK((*in)["data_attached"] == true);
  // The guest mounts it and reads what the old desktop wrote (its boot is in the history).
  REQUIRE(itest::wait_until([&] { return !itest::lines_with(a.console(name), "LABDESK: data attached").empty(); }, 60s));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
  MESSAGE("data disk plugged in and mounted " << seconds << " s after the call");
  CHECK(itest::lines_with(a.console(name), "LABDESK: data attached")[0].find("bootcount=2 history=2") != std::string::npos);
  auto again = a.client->post_json("/v1/desktops/" + name + "/data", json::object());  // retried: no change
  REQUIRE(again);
  CHECK((*again)["data_attached"] == true);

  // A crash restart starts it with the disk from the start.
  const int pid = qemu_pid(name);
  REQUIRE(pid > 0);
  REQUIRE(kill(pid, SIGKILL) == 0);
  CHECK(a.ready_line(name, 2).find("data=mounted bootcount=3") != std::string::npos);
  REQUIRE(a.client->send_json("DELETE", "/v1/desktops/" + name, json::object()));
  CHECK(itest::wait_until([&] { return a.overlay_files().empty(); }, 30s));
  CHECK(a.proc->stop(SIGTERM) == 0);
}

TEST_CASE("agent on libvirtd: libvirtd restarts → degraded meanwhile, reconnects, events flow again") {
  AgentUnderTest a;
  a.start();
  auto d = a.create("bob", 256, 256);
  const std::string name = d["name"];
  a.ready_line(name, 1);
  const int pid = qemu_pid(name);

  REQUIRE(itest::run({kSandbox, "stop-libvirtd"}) == 0);
  CHECK(itest::wait_until([&] { return a.health() == "reconnecting"; }, 30s));
  auto during = a.client->request("GET", "/v1/desktops");
  REQUIRE(during);
  CHECK(during->status == 503);
  auto h = a.client->get_json("/v1/health");
  REQUIRE(h);
  CHECK((*h)["ok"] == false);

  REQUIRE(itest::run({kSandbox, "start-libvirtd"}) == 0);
  CHECK(itest::wait_until([&] { return a.health() == "connected"; }, 60s));
  auto list = a.client->get_json("/v1/desktops");
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  CHECK((*list)[0]["name"] == name);
  CHECK(qemu_pid(name) == pid);

  // events are registered again on the new connection: a crash is still handled
  REQUIRE(kill(pid, SIGKILL) == 0);
  CHECK(itest::wait_until([&] {
    auto g = a.client->get_json("/v1/desktops/" + name);
    return g && (*g)["restarts"] == 1;
  }, 120s));
  CHECK(a.ready_line(name, 2).find("bootcount=2 overlay=fresh") != std::string::npos);
  REQUIRE(a.client->send_json("DELETE", "/v1/desktops/" + name, json::object()));
  CHECK(a.proc->stop(SIGTERM) == 0);
}
