#include "real_lab.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace labdesk::itest {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
const std::string kAgentToken = "broker-itest-agent-token-0123456789";
std::string bin(const std::string& rel) { return std::string(LABDESK_BINARY_DIR) + "/" + rel; }
int sh(const std::string& cmd) { return std::system(cmd.c_str()); }
}  // namespace

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf{};
  while (auto n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  pclose(p);
  return out;
}

bool vnc_login_from(const std::string& ns, const std::string& host, int port, const std::string& password) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) ::_exit(2);
    ::alarm(20);  // a dropped SYN (no forward for this PC) would otherwise wait for TCP's timeout
    ::_exit(vnc_login(host, port, password) ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

BrokerLab::BrokerLab(LabOptions opt) : opt_(std::move(opt)) {
  // The lab network in the sandbox's own namespace: the boot-server, the agents and (on
  // qemu:///system) the VMs' VNC servers all live here, lab PCs reach it over br0.
  REQUIRE(sh("ip link add br0 type bridge && ip addr add 10.77.0.1/24 dev br0 && ip link set br0 up") == 0);
  for (int i = 0; i < opt_.pcs; ++i) {
    std::string ns = "ldpc" + std::to_string(::getpid()) + "-" + std::to_string(i);
    std::string veth = "vpc" + std::to_string(i);
    REQUIRE(sh("ip netns add " + ns) == 0);
    pc_ns_.push_back(ns);
    REQUIRE(sh("ip link add " + veth + "a type veth peer name " + veth + "b netns " + ns + " && ip link set " + veth +
               "a master br0 up && ip -n " + ns + " addr add " + pc_ip(i) + "/24 dev " + veth + "b && ip -n " + ns +
               " link set " + veth + "b up && ip -n " + ns + " link set lo up") == 0);
  }
  if (opt_.network == "bridge") {
    // The admin's VLAN: a bridge with its own DHCP server (as a school network has), not libvirt's.
    REQUIRE(sh("ip link add br-desk type bridge && ip addr add 10.66.0.1/24 dev br-desk && ip link set br-desk up") == 0);
    desk_dhcp_ = std::make_unique<Child>(
        std::vector<std::string>{"/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
                                 "--interface=br-desk", "--bind-interfaces", "--dhcp-range=10.66.0.10,10.66.0.200,1h",
                                 "--dhcp-leasefile=" + path() + "/desk.leases", "--pid-file=" + path() + "/desk-dhcp.pid"},
        path() + "/desk-dhcp.log");
  }
  const std::string assets = bin("pxe-assets");
  fs::create_directories(path() + "/images");
  for (const char* f : {"vmlinuz", "desktop/initrd.cpio.gz", "desktop/base.qcow2"}) {
    REQUIRE_MESSAGE(fs::exists(assets + "/" + f), "missing " << assets << "/" << f << ": build the pxe-assets target");
    fs::copy_file(assets + "/" + f, path() + "/images/" + fs::path(f).filename().string());
  }
  std::ofstream(path() + "/agent.token") << kAgentToken << "\n";
  std::filesystem::permissions(path() + "/agent.token", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  for (int i = 0; i < opt_.agents; ++i) write_agent(static_cast<std::size_t>(i));
  write_server_config();
  admin_ = std::make_unique<http::Client>("http://127.0.0.1:7080", http::ClientOptions{.timeout = 30s});
}

BrokerLab::~BrokerLab() {
  if (server_) server_->stop(SIGTERM, 10s);
  server_.reset();
  for (std::size_t i = 0; i < agents_.size(); ++i) {
    // A host of its own: its agent goes first, then its sandbox's cleanup stops its VMs and libvirtd.
    if (own_libvirtd(i) && agents_[i]->running()) {
      sh("pkill -TERM -P " + std::to_string(agents_[i]->pid()) + " -x labdesk-agent");
      wait_until([&] { return !agents_[i]->running(); }, 20s);
    }
    agents_[i]->stop(SIGTERM, 10s);
  }
  agents_.clear();
  for (int pid : dnsmasq_pids()) ::kill(pid, SIGKILL);  // one a killed boot-server left behind
  for (const auto& ns : pc_ns_) sh("ip netns del " + ns + " 2>/dev/null");
  sh("ip link del br0 2>/dev/null");
  if (desk_dhcp_) desk_dhcp_->stop(SIGTERM, 5s);
  desk_dhcp_.reset();
  sh("ip link del br-desk 2>/dev/null");
  // VMs this test started in the sandbox's libvirtd (the next test case may share it).
  if (opt_.libvirt_uri == "qemu:///system") {
    sh("for d in $(virsh -c qemu:///system list --name 2>/dev/null); do virsh -c qemu:///system destroy \"$d\" >/dev/null 2>&1; done");
    // and the desktops' NAT network the agent had it define (its dnsmasq, bridge and rules).
    sh("virsh -c qemu:///system net-destroy labdesk >/dev/null 2>&1; virsh -c qemu:///system net-undefine labdesk >/dev/null 2>&1");
  }
}

namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string network_section(const std::string& mode, std::size_t i) {
  if (mode == "nat") {
    return "[network]\nmode = \"nat\"\nbridge = \"ldnat" + std::to_string(i) + "\"\nsubnet = \"192.168." +
           std::to_string(150 + i) + ".0/24\"\n";
  }
  if (mode == "bridge") return "[network]\nmode = \"bridge\"\nbridge = \"br-desk\"\n";
  return "[network]\nmode = \"none\"\n";
}

}  // namespace

void BrokerLab::type_on_console(std::size_t host, const std::string& desktop, const std::string& line) const {
  const std::string sock = agent_dir(host) + "/console/" + desktop + ".sock";
  // The connection stays open while QEMU feeds the guest's 16-byte UART FIFO: what is still
  // queued when it closes is dropped.
  REQUIRE(sh("{ printf '%s\\n' " + shell_quote(line) + "; sleep 3; } | socat -u - UNIX-CONNECT:" + sock) == 0);
}

void BrokerLab::write_agent(std::size_t i) {
  const std::string root = agent_dir(i);
  const int port = 17400 + static_cast<int>(i);
  std::ofstream(root + ".toml")
      << "[agent]\nhost = \"" << host_name(i) << "\"\nlisten = \"127.0.0.1\"\nport = " << port
      << "\ntoken_file = \"" << path() << "/agent.token\"\n"
      << "[libvirt]\nuri = \"" << opt_.libvirt_uri << "\"\n"
      << "[storage]\nimages_dir = \"" << path() << "/images\"\noverlay_dir = \"" << root << "/overlays\"\n"
      << "data_dir = \"" << data_dir(i) << "\"\nconsole_dir = \"" << root << "/console\"\ndata_disk_mib = 64\n"
      << (opt_.console_input ? "console_mode = \"unix\"\n" : "")
      << "[desktops]\ncapacity_mib = " << opt_.capacity_mib << "\nvnc_listen = \"10.77.0.1\"\nmax_restarts = 2\n"
      << "[load]\nsample_ms = 100\n"
      << network_section(opt_.network, i)
      << (opt_.migration ? "[migration]\npeer_uri = \"qemu+tcp://127.0.0." + std::to_string(11 + i) +
                               "/system\"\nunproven_shared_storage = true\n"
                         : "")
      << "[[images]]\nname = \"desktop\"\nbase = \"base.qcow2\"\nkernel = \"vmlinuz\"\ninitrd = \"initrd.cpio.gz\"\n"
      << "cmdline = \"console=ttyS0 quiet" << (opt_.migration ? " labdesk.tick=1" : "") << "\"\nready_line = \"LABDESK: ready\"\n";
  std::vector<std::string> argv{bin("hypervisor-agent/labdesk-agent"), "-c", root + ".toml"};
  if (own_libvirtd(i)) {
    // A host of its own: libvirtd in a fresh mount namespace (private /run/libvirt, /etc/libvirt),
    // and for migrations a UTS namespace (its own name) and a TCP listener of its own.
    argv.insert(argv.begin(), {"/usr/bin/unshare", "--mount", "--uts", "--propagation", "private",
                               std::string(LABDESK_SOURCE_DIR) + "/tests/integration/lib/sandbox.sh", "inner"});
    if (opt_.migration) {
      argv.insert(argv.begin(), {"/usr/bin/env", "SANDBOX_LIBVIRT_LISTEN=127.0.0." + std::to_string(11 + i),
                                 "SANDBOX_HOST_NAME=" + host_name(i)});
    }
  }
  agents_.push_back(std::make_unique<Child>(argv, root + ".log"));
  agent_clients_.push_back(std::make_unique<http::Client>(
      "http://127.0.0.1:" + std::to_string(port), http::ClientOptions{.bearer_token = kAgentToken, .timeout = 60s}));
  auto& c = *agent_clients_.back();
  REQUIRE_MESSAGE(wait_until([&] {
    auto h = c.get_json("/v1/health");
    return h && (*h)["libvirt"] == "connected";
  }, 60s), "agent " << i << " did not come up: " << read_file(root + ".log"));
}

std::string BrokerLab::data_dir(std::size_t i) const {
  return opt_.shared_data ? path() + "/shared-data" : path() + "/agent" + std::to_string(i) + "/data";
}

void BrokerLab::kill_host(std::size_t i) {
  REQUIRE_MESSAGE(own_libvirtd(i), "only a host with its own libvirtd can die alone");
  const int sandbox = agents_.at(i)->pid();
  // The agent is the sandbox shell's child; once it is gone the shell's cleanup kills the VMs
  // (by their PID files) and libvirtd.
  sh("pkill -KILL -P " + std::to_string(sandbox) + " -x labdesk-agent");
  REQUIRE(wait_until([&] { return !agents_.at(i)->running(); }, 30s));
}

http::Client BrokerLab::agent_client(std::size_t i) const {
  return http::Client("http://127.0.0.1:" + std::to_string(17400 + i),
                      http::ClientOptions{.bearer_token = kAgentToken, .timeout = 60s});
}

void BrokerLab::write_server_config() {
  std::ofstream f(path() + "/lab.toml");
  f << "[lab]\ninterface = \"br0\"\naddress = \"10.77.0.1/24\"\nrange_start = \"10.77.0.150\"\n"
    << "range_end = \"10.77.0.200\"\nlease_seconds = 600\nipv6_ra = false\n"
    << "[boot]\nassets_dir = \"" << bin("pxe-assets") << "\"\nstate_dir = \"" << path() << "/state\"\n"
    << "[tiers]\nmib = " << opt_.tiers << "\nmode = \"" << opt_.mode << "\"\ngrace_seconds = 600\n"
    << "[desktops]\nimage = \"desktop\"\nvnc_ready_seconds = " << opt_.vnc_ready_seconds << "\n"
    << "data = \"" << (opt_.shared_data ? "shared" : "per_host") << "\"\n"
    << (opt_.rebalance ? "[rebalance]\nenabled = true\ninterval_seconds = 5\ncooldown_seconds = 0\n" : "[rebalance]\nenabled = false\n");
  for (int i = 0; i < opt_.agents; ++i) {
    f << "[[hosts]]\nname = \"" << host_name(static_cast<std::size_t>(i)) << "\"\nagent_url = \"http://127.0.0.1:"
      << 17400 + i << "\"\ntoken_file = \"" << path() << "/agent.token\"\ncapacity_mib = " << opt_.capacity_mib << "\n";
  }
}

void BrokerLab::start_server() {
  server_ = std::make_unique<Child>(
      std::vector<std::string>{bin("boot-server/labdesk-boot-server"), "-c", path() + "/lab.toml"}, path() + "/server.log");
  const std::size_t want = static_cast<std::size_t>(++server_starts_);
  // "broker up" is logged after reconciliation, before the first request is served; dnsmasq
  // (started after it) is healthy once it holds the DHCP port.
  REQUIRE_MESSAGE(wait_until([&] {
    if (lines_with(path() + "/server.log", "broker up").size() < want) return false;
    auto st = admin_->get_json("/v1/status");
    return st && (*st)["dnsmasq"]["healthy"] == true;
  }, 60s), "boot-server did not come up: " << server_log());
}

void BrokerLab::kill_server() {
  REQUIRE(server_);
  CHECK(server_->stop(SIGKILL, 10s) == 128 + SIGKILL);
  server_.reset();
}

void BrokerLab::add_user(const std::string& name) {
  auto r = admin_->post_json("/v1/admin/users", {{"name", name}, {"password", name + "-pw"}, {"admin", false}});
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
}

std::string BrokerLab::pc_exec(int pc, const std::string& cmd) const { return "ip netns exec " + pc_ns(pc) + " " + cmd; }

PcAnswer BrokerLab::pc_call(int pc, const std::string& method, const std::string& path_, const json& body,
                            const std::string& token, int max_time_s) {
  static int n = 0;
  const std::string req = path() + "/req-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + ".json";
  std::string cmd = "curl -s -m " + std::to_string(max_time_s) + " -w '\\n%{http_code}' -X " + method;
  if (!body.is_null()) {
    std::ofstream(req) << body.dump();
    cmd += " -H 'Content-Type: application/json' --data-binary @" + req;
  }
  if (!token.empty()) cmd += " -H 'Authorization: Bearer " + token + "'";
  std::string out = capture(pc_exec(pc, cmd + " --cacert " + path() + "/state/tls/ca.crt https://10.77.0.1:8443" + path_));
  fs::remove(req);
  PcAnswer a;
  auto nl = out.rfind('\n');
  if (nl == std::string::npos) return a;
  a.status = std::atoi(out.c_str() + nl + 1);
  a.body = json::parse(out.substr(0, nl), nullptr, false);
  if (a.body.is_discarded()) a.body = nullptr;
  return a;
}

json BrokerLab::login(int pc, const std::string& user) {
  auto a = pc_call(pc, "POST", "/v1/login", {{"user", user}, {"password", user + "-pw"}, {"client_id", "pc-" + user}});
  REQUIRE_MESSAGE(a.status == 200, "login of '" << user << "': " << a.status << " " << a.body.dump() << "\n" << server_log());
  return a.body;
}

std::unique_ptr<Child> BrokerLab::login_async(int pc, const std::string& user, const std::string& out) {
  const std::string body = json{{"user", user}, {"password", user + "-pw"}, {"client_id", "pc-" + user}}.dump();
  return std::make_unique<Child>(
      std::vector<std::string>{"/usr/sbin/ip", "netns", "exec", pc_ns(pc), "curl", "-s", "-m", "300", "-o", out, "-w",
                               "%{http_code}", "-H", "Content-Type: application/json", "-d", body, "--cacert",
                               path() + "/state/tls/ca.crt", "https://10.77.0.1:8443/v1/login"},
      out + ".status");
}

json BrokerLab::session_of(const std::string& user) {
  for (const auto& s : sessions()) {
    if (s["user"] == user) return s;
  }
  FAIL("no session for " << user);
  return {};
}

json BrokerLab::sessions() {
  auto r = admin_->get_json("/v1/admin/sessions");
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  return r->is_object() && r->contains("sessions") ? (*r)["sessions"] : *r;
}

std::map<std::string, std::string> BrokerLab::running_desktops() {
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i < agent_clients_.size(); ++i) {
    auto r = agent_clients_[i]->get_json("/v1/desktops");
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    for (const auto& d : *r) out[d["name"].get<std::string>()] = host_name(i) + ":" + d["state"].get<std::string>();
  }
  return out;
}

std::set<std::string> BrokerLab::nft_forwards() {
  // fwd_addr and fwd_port map (client ip . lab port) to the desktop's address and VNC port.
  std::map<std::string, std::string> addr, port;
  for (auto [name, into] : {std::pair{"fwd_addr", &addr}, {"fwd_port", &port}}) {
    auto j = json::parse(capture(std::string("nft -j list map ip labdesk ") + name + " 2>/dev/null"), nullptr, false);
    if (j.is_discarded() || !j.contains("nftables")) continue;
    for (const auto& item : j["nftables"]) {
      if (!item.contains("map") || !item["map"].contains("elem")) continue;
      for (const auto& e : item["map"]["elem"]) {
        const auto& key = e[0]["concat"];
        (*into)[key[0].get<std::string>() + ":" + std::to_string(key[1].get<int>())] =
            e[1].is_string() ? e[1].get<std::string>() : std::to_string(e[1].get<int>());
      }
    }
  }
  std::set<std::string> out;
  for (const auto& [k, a] : addr) out.insert(k + "->" + a + ":" + (port.contains(k) ? port[k] : "?"));
  return out;
}

std::set<std::string> BrokerLab::api_forwards() {
  auto r = admin_->get_json("/v1/forwards");
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  std::set<std::string> out;
  for (const auto& f : (*r)["forwards"]) {
    out.insert(f["client_ip"].get<std::string>() + ":" + std::to_string(f["port"].get<int>()) + "->" +
               f["target_ip"].get<std::string>() + ":" + std::to_string(f["target_port"].get<int>()));
  }
  return out;
}

std::set<std::string> BrokerLab::expected_forwards(const json& sessions) {
  std::set<std::string> out;
  for (const auto& s : sessions) {
    out.insert(s["client_ip"].get<std::string>() + ":" + std::to_string(s["lab_port"].get<int>()) + "->" +
               s["vnc"]["host"].get<std::string>() + ":" + std::to_string(s["vnc"]["port"].get<int>()));
  }
  return out;
}

std::string BrokerLab::data_disk(const std::string& user) const { return data_dir(0) + "/" + user + ".qcow2"; }

std::vector<int> BrokerLab::dnsmasq_pids() const {
  std::vector<int> out;
  const std::string mine = "--conf-file=" + path() + "/state/";
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = read_file("/proc/" + pid + "/cmdline");
    if (cmd.find(mine) != std::string::npos && cmd.find("dnsmasq") != std::string::npos) out.push_back(std::stoi(pid));
  }
  return out;
}

std::string BrokerLab::metrics() {
  auto r = admin_->request("GET", "/metrics");
  return r ? r->body : "";
}

}  // namespace labdesk::itest
