// Shared by the agent's unit tests: a scratch directory tree and a config on test:///default.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "labdesk/agent/agent.hpp"
#include "labdesk/agent/config.hpp"
#include "labdesk/agent/domain_xml.hpp"
#include "labdesk/agent/storage.hpp"
#include "labdesk/common/log.hpp"

namespace labdesk::test {

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/labdesk-agent-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline std::string agent_toml(const std::string& root, const std::string& extra = "") {
  return "[agent]\nport = 0\ntoken_file = \"" + root + "/token\"\n"
         "[libvirt]\nuri = \"test:///default\"\n"
         "[storage]\nimages_dir = \"" + root + "/images\"\noverlay_dir = \"" + root + "/overlays\"\n"
         "data_dir = \"" + root + "/data\"\ndata_disk_mib = 16\n"
         "[desktops]\ncapacity_mib = 2048\nmax_restarts = 2\n"
         "[load]\nsample_ms = 50\ncache_ms = 500\n"
         "[[images]]\nname = \"deb\"\nbase = \"base.qcow2\"\nkernel = \"vmlinuz\"\ninitrd = \"initrd.gz\"\n"
         "cmdline = \"console=ttyS0 quiet\"\n"
         "[[images]]\nname = \"plain\"\nbase = \"base.qcow2\"\n" + extra;
}

// A scratch tree with images/base.qcow2 (a real qcow2), a token file and a parsed config.
struct AgentTree {
  TempDir dir;
  agent::AgentConfig cfg;
  std::string token = "test-token-0123456789";
  explicit AgentTree(const std::string& extra = "") {
    std::filesystem::create_directories(dir.path + "/images");
    std::ofstream(dir.path + "/token") << token << "\n";
    std::ofstream(dir.path + "/images/vmlinuz") << "kernel";
    std::ofstream(dir.path + "/images/initrd.gz") << "initrd";
    auto r = agent::run_command({"qemu-img", "create", "-q", "-f", "qcow2", dir.path + "/images/base.qcow2", "16M"});
    if (!r) throw std::runtime_error(r.error().message);
    cfg = agent::parse_agent_config(agent_toml(dir.path, extra), "test.toml");
  }
};

// The real agent in-process on test:///default, its API on a loopback port, three I/O threads.
struct RunningAgent {
  AgentTree tree;
  boost::asio::io_context io;
  agent::EventLoop loop;
  std::unique_ptr<agent::Agent> agent;
  std::vector<std::thread> threads;

  explicit RunningAgent(const std::string& extra = "") : tree(extra) {
    agent = std::make_unique<agent::Agent>(loop, tree.cfg, tree.token, io, log::make_logger("agent-test", spdlog::level::warn));
    agent->start();
    for (int i = 0; i < 3; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~RunningAgent() {
    agent->drain();
    io.stop();
    for (auto& t : threads) t.join();
    agent.reset();
  }
  RunningAgent(const RunningAgent&) = delete;
  RunningAgent& operator=(const RunningAgent&) = delete;
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(agent->port()); }
};

// A desktop of `user` with `mib` MiB and the lab's usual paths, for the golden-file tests.
inline agent::DomainSpec desktop_spec(const std::string& user, std::int64_t mib) {
  agent::DomainSpec s;
  s.name = "ld-" + user + "-0a1b2c";
  s.meta = {user, "sess-42", "deb", 1, "", "/var/lib/labdesk/overlays/" + s.name + ".qcow2", mib, 0};
  s.memory_mib = mib;
  s.max_memory_mib = mib;
  s.base = "/var/lib/labdesk/images/deb.qcow2";
  s.vnc_listen = "10.0.0.5";
  s.vnc_password = "Ab3de9xy";
  return s;
}

}  // namespace labdesk::test
