// Agent benchmarks against a real libvirtd, side by side with their anchors in one run:
//   create+start through the agent   vs  `virsh create` of the same domain XML   (goal ≤ 1.1×)
//   balloon resize through the agent vs  `virsh setmem --live`                  (goal ≤ 1.1×)
//   GET /v1/load with 100 concurrent requests vs one request alone
// Runs itself in the integration sandbox (own namespaces and libvirtd); needs root.
//   bench_agent [--rounds N]
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "../tests/integration/lib/helpers.hpp"
#include "labdesk/agent/domain_xml.hpp"
#include "labdesk/http/client.hpp"

using namespace labdesk;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

const std::string kToken = "bench-token-0123456789";

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

int sh(const std::vector<std::string>& argv) { return itest::run(argv); }

void reexec_in_sandbox(int argc, char** argv) {
  if (std::getenv("LABDESK_SANDBOX")) return;
  std::string script = std::string(LABDESK_SOURCE_DIR) + "/tests/integration/lib/sandbox.sh";
  char exe[4096] = {};
  if (readlink("/proc/self/exe", exe, sizeof exe - 1) <= 0) return;
  setenv("LABDESK_SANDBOX", "1", 1);
  std::vector<char*> args{script.data(), const_cast<char*>("run"), exe};
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  execv(script.c_str(), args.data());
  std::cerr << "cannot run '" << script << "': " << std::strerror(errno) << "\n";
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  reexec_in_sandbox(argc, argv);
  int rounds = 5;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  itest::ScratchDir dir;
  const std::string guest = std::string(LABDESK_BINARY_DIR) + "/tests/agent-guest";
  if (sh({std::string(LABDESK_SOURCE_DIR) + "/tests/integration/lib/mkguest.sh", guest}) != 0) return 1;
  fs::create_directories(dir.path + "/images");
  fs::create_directories(dir.path + "/anchor");
  for (const char* f : {"vmlinuz", "initrd.cpio.gz", "base.qcow2"}) fs::copy_file(guest + "/" + f, dir.path + "/images/" + f);
  std::ofstream(dir.path + "/token") << kToken << "\n";
  std::filesystem::permissions(dir.path + "/token", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::ofstream(dir.path + "/agent.toml")
      << "[agent]\nport = 17400\ntoken_file = \"" << dir.path << "/token\"\n"
      << "[storage]\nimages_dir = \"" << dir.path << "/images\"\noverlay_dir = \"" << dir.path << "/overlays\"\n"
      << "data_dir = \"" << dir.path << "/data\"\ndata_disk_mib = 64\n"
      << "[desktops]\ncapacity_mib = 8192\n"
      << "[[images]]\nname = \"tiny\"\nbase = \"base.qcow2\"\nkernel = \"vmlinuz\"\ninitrd = \"initrd.cpio.gz\"\n"
      << "cmdline = \"console=ttyS0 panic=-1 quiet\"\n";
  itest::Child agent({std::string(LABDESK_BINARY_DIR) + "/hypervisor-agent/labdesk-agent", "-c", dir.path + "/agent.toml",
                      "--log-level", "error"},
                     dir.path + "/agent.log");
  http::Client client("http://127.0.0.1:17400", {.bearer_token = kToken, .timeout = 120s});
  if (!itest::wait_until([&] { return client.get_json("/v1/health").has_value(); }, 60s)) {
    std::cerr << itest::read_file(dir.path + "/agent.log");
    return 1;
  }
  // The data disk exists before timing (first use is a one-off cost for both).
  const std::string data_disk = dir.path + "/data/u.qcow2";
  {
    auto d = client.post_json("/v1/desktops", {{"user", "u"}, {"session", "warm"}, {"image", "tiny"}, {"memory_mib", 256}});
    if (!d) return 1;
    client.send_json("DELETE", "/v1/desktops/" + (*d)["name"].get<std::string>(), nlohmann::json::object());
  }

  // 1. create+start: alternate agent and virsh so both see the same machine load.
  std::vector<double> t_agent, t_virsh;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    auto d = client.post_json("/v1/desktops", {{"user", "u"}, {"session", "b" + std::to_string(r)}, {"image", "tiny"},
                                               {"memory_mib", 256}, {"max_memory_mib", 512}});
    t_agent.push_back(ms_since(t0));
    if (!d) {
      std::cerr << "create failed: " << d.error().message << "\n";
      return 1;
    }
    client.send_json("DELETE", "/v1/desktops/" + (*d)["name"].get<std::string>(), nlohmann::json::object());

    // The anchor gets the same XML, its overlay made beforehand (outside the timing).
    agent::DomainSpec s;
    s.name = "ld-anchor-" + std::string(6 - std::to_string(r).size(), '0') + std::to_string(r);
    s.meta = {"anchor", "a", "tiny", 0, data_disk, dir.path + "/anchor/" + s.name + ".qcow2", 512, 0};
    s.memory_mib = 256;
    s.max_memory_mib = 512;
    s.base = dir.path + "/images/base.qcow2";
    s.kernel = dir.path + "/images/vmlinuz";
    s.initrd = dir.path + "/images/initrd.cpio.gz";
    s.cmdline = "console=ttyS0 panic=-1 quiet labdesk.user=anchor labdesk.session=a";
    s.vnc_listen = "127.0.0.1";
    s.vnc_password = "abcdefgh";
    sh({"/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", "-b", s.base, "-F", "qcow2", s.meta.overlay});
    std::ofstream(dir.path + "/anchor.xml") << agent::render_domain_xml(s);
    t0 = Clock::now();
    int rc = sh({"/usr/bin/virsh", "-q", "-c", "qemu:///system", "create", dir.path + "/anchor.xml"});
    t_virsh.push_back(ms_since(t0));
    if (rc != 0) {
      std::cerr << "virsh create failed\n";
      return 1;
    }
    sh({"/usr/bin/virsh", "-q", "-c", "qemu:///system", "destroy", s.name});
    fs::remove(s.meta.overlay);
  }

  // 2. balloon resize on one running desktop, alternating sizes and tools.
  auto d = client.post_json("/v1/desktops", {{"user", "u"}, {"session", "balloon"}, {"image", "tiny"},
                                             {"memory_mib", 384}, {"max_memory_mib", 512}});
  if (!d) return 1;
  const std::string name = (*d)["name"];
  std::this_thread::sleep_for(5s);  // let the guest load its balloon driver
  std::vector<double> r_agent, r_virsh;
  for (int r = 0; r < rounds * 2; ++r) {
    auto t0 = Clock::now();
    auto m = client.post_json("/v1/desktops/" + name + "/memory", {{"memory_mib", r % 2 ? 384 : 320}});
    r_agent.push_back(ms_since(t0));
    if (!m) return 1;
    t0 = Clock::now();
    sh({"/usr/bin/virsh", "-q", "-c", "qemu:///system", "setmem", name, r % 2 ? "352M" : "288M", "--live"});
    r_virsh.push_back(ms_since(t0));
  }

  // 3. load report: one request alone (after the cache ran out), then 100 at once.
  std::this_thread::sleep_for(1500ms);
  auto t0 = Clock::now();
  client.get_json("/v1/load");
  const double single = ms_since(t0);
  std::this_thread::sleep_for(1500ms);
  std::vector<double> lat(100);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::vector<http::Client> clients;
  for (int i = 0; i < 100; ++i) clients.emplace_back("http://127.0.0.1:17400", http::ClientOptions{.bearer_token = kToken, .timeout = 60s});
  auto burst0 = Clock::now();
  for (int i = 0; i < 100; ++i) {
    threads.emplace_back([&, i] {
      auto t = Clock::now();
      if (!clients[static_cast<std::size_t>(i)].get_json("/v1/load")) failures++;
      lat[static_cast<std::size_t>(i)] = ms_since(t);
    });
  }
  for (auto& t : threads) t.join();
  const double burst_wall = ms_since(burst0);
  client.send_json("DELETE", "/v1/desktops/" + name, nlohmann::json::object());
  agent.stop(SIGTERM);

  std::cout.setf(std::ios::fixed);
  std::cout.precision(1);
  const double mc_a = median(t_agent), mc_v = median(t_virsh), mr_a = median(r_agent), mr_v = median(r_virsh);
  auto r2 = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", x);
    return std::string(b);
  };
  std::cout << "bench_agent (" << rounds << " rounds, TCG, medians in ms)\n"
            << "create+start  agent " << mc_a << "  virsh create " << mc_v << "  ratio " << r2(mc_a / mc_v) << "  (goal <= 1.1)\n"
            << "balloon       agent " << mr_a << "  virsh setmem " << mr_v << "  ratio " << r2(mr_a / mr_v) << "  (goal <= 1.1)\n"
            << "load x100     p50 " << pct(lat, 0.5) << "  p99 " << pct(lat, 0.99) << "  max " << pct(lat, 1.0)
            << "  wall " << burst_wall << "  single " << single << "  p99/single " << r2(pct(lat, 0.99) / single)
            << "  failures " << failures.load() << "\n";
  return failures.load() == 0 ? 0 : 1;
}
