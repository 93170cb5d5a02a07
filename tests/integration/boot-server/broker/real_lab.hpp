// A lab of real components for the broker's integration tests, inside the test's sandbox (its own
// network namespace with libvirtd): bridge br0 = the lab network (10.77.0.1/24), lab PCs in
// their own namespaces on it (10.77.0.101, .102, ...), real labdesk-agent processes (libvirt
// test:///default, or the sandbox's qemu:///system with TCG desktops of pxe-assets) and a real
// labdesk-boot-server with the broker enabled and its SQLite store on disk. Everything started
// here is stopped by PID (itest::Child) and the PC namespaces are deleted at the end.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../lib/helpers.hpp"
#include "labdesk/http/client.hpp"

namespace labdesk::itest {

struct LabOptions {
  std::string libvirt_uri = "test:///default";
  // One agent per host. With qemu:///system, host 0 uses the sandbox's libvirtd and every further
  // host runs its own libvirtd + virtlogd in a mount namespace of its own (sandbox.sh inner).
  int agents = 3;
  int capacity_mib = 1024;             // per host
  std::string tiers = "[512, 256, 128]";
  std::string mode = "handoff";
  int vnc_ready_seconds = 0;           // 0: test:///default desktops have no VNC server
  int pcs = 2;
  // desktops.data = "shared": every host's data_dir is one folder (standing for a file server's
  // export that each host mounts, docs/data.md).
  bool shared_data = false;
  // Hosts that take live migrations: every host (host 0 too) runs its own libvirtd in its own
  // mount and UTS namespace (its own host name and UUID), listening on 127.0.0.(11+i) over TCP;
  // the agents' [migration] points at it, the data area being the shared stand-in folder.
  bool migration = false;
  // The desktops' network ([network] mode): "none"; "nat": each host its own libvirt NAT network
  // (one name, bridge ldnat<i>, subnet 192.168.(150+i).0/24); "bridge": every host's desktops on
  // the test's bridge br-desk (10.66.0.1/24, a DHCP server of its own: the admin's VLAN).
  std::string network = "none";
  // The lab evening itself out ([rebalance] every 5 s, no cooldown); off otherwise, as it would
  // move desktops behind the other tests' backs.
  bool rebalance = false;
  // Serial consoles on sockets the test types into (console_mode "unix"): commands for the guest.
  bool console_input = false;
};

// An HTTP answer seen from a lab PC: status (0 = no answer) and the body as JSON (null if none).
struct PcAnswer {
  int status = 0;
  nlohmann::json body;
};

class BrokerLab {
 public:
  // Types `line` and Enter on the serial console of `desktop` on host `host` (console_input).
  void type_on_console(std::size_t host, const std::string& desktop, const std::string& line) const;
  explicit BrokerLab(LabOptions opt);
  ~BrokerLab();
  BrokerLab(const BrokerLab&) = delete;
  BrokerLab& operator=(const BrokerLab&) = delete;

  void start_server();  // returns once the broker reconciled and the APIs answer
  void kill_server();   // SIGKILL, no draining: the crash the restart tests are about
  // A host dies: its agent is SIGKILLed, and with it (sandbox.sh's cleanup) its VMs and libvirtd.
  // Only hosts with a libvirtd of their own (index >= 1 on qemu:///system).
  void kill_host(std::size_t i);
  [[nodiscard]] bool server_running() const { return server_ && server_->running(); }

  // Admin API (loopback, no token) and the agents' API, from the boot-server's namespace.
  http::Client& admin() { return *admin_; }
  http::Client& agent(std::size_t i) { return *agent_clients_.at(i); }
  // Another client of agent i (for another thread: a client is not shared between threads).
  [[nodiscard]] http::Client agent_client(std::size_t i) const;
  void add_user(const std::string& name);

  // Client API from lab PC `pc` (0-based), through curl in its namespace.
  PcAnswer pc_call(int pc, const std::string& method, const std::string& path, const nlohmann::json& body = nullptr,
                   const std::string& token = "", int max_time_s = 180);
  nlohmann::json login(int pc, const std::string& user);  // REQUIREs a 200
  // A login in the background (curl in the PC's namespace): body to `out`, status to out.status.
  std::unique_ptr<Child> login_async(int pc, const std::string& user, const std::string& out);
  static bool answered_200(const std::string& out) { return read_file(out + ".status") == "200"; }
  [[nodiscard]] std::string pc_ip(int pc) const { return "10.77.0." + std::to_string(101 + pc); }
  [[nodiscard]] std::string pc_ns(int pc) const { return pc_ns_.at(static_cast<std::size_t>(pc)); }

  // The truth from outside the boot-server.
  nlohmann::json sessions();                                      // GET /v1/admin/sessions
  nlohmann::json session_of(const std::string& user);            // that user's (FAILs without one)
  std::map<std::string, std::string> running_desktops();         // desktop name -> host name, from the agents
  std::set<std::string> nft_forwards();                          // "client:port->target:port" from nft
  std::set<std::string> api_forwards();                          // the same from GET /v1/forwards
  static std::set<std::string> expected_forwards(const nlohmann::json& sessions);
  std::string data_disk(const std::string& user) const;         // path on agent 0's data_dir (or the shared one)
  [[nodiscard]] std::string data_dir(std::size_t i) const;
  [[nodiscard]] std::string host_name(std::size_t i) const { return "host" + std::to_string(i); }
  // Host i runs a libvirtd of its own (not the sandbox's): it can die alone, and migrate.
  [[nodiscard]] bool own_libvirtd(std::size_t i) const {
    return opt_.libvirt_uri == "qemu:///system" && (i > 0 || opt_.migration);
  }
  // Agent i's folder (overlays/, console/ inside).
  [[nodiscard]] std::string agent_dir(std::size_t i) const { return path() + "/agent" + std::to_string(i); }
  [[nodiscard]] const std::string& path() const { return dir_.path; }
  std::string server_log() const { return read_file(dir_.path + "/server.log"); }
  std::string metrics();
  // PIDs of dnsmasq processes serving this lab (their --conf-file is in this lab's state dir).
  std::vector<int> dnsmasq_pids() const;

 private:
  void write_agent(std::size_t i);
  void write_server_config();
  std::string pc_exec(int pc, const std::string& cmd) const;

  LabOptions opt_;
  ScratchDir dir_;
  std::vector<std::string> pc_ns_;
  std::vector<std::unique_ptr<Child>> agents_;
  std::vector<std::unique_ptr<http::Client>> agent_clients_;
  std::unique_ptr<Child> server_;
  std::unique_ptr<Child> desk_dhcp_;  // network "bridge": the VLAN's DHCP server
  std::unique_ptr<http::Client> admin_;
  int server_starts_ = 0;
};

// vnc_login (VNC authentication with `password`) from inside network namespace `ns`.
bool vnc_login_from(const std::string& ns, const std::string& host, int port, const std::string& password);

// Runs a shell command, returns its stdout.
std::string capture(const std::string& cmd);

}  // namespace labdesk::itest
