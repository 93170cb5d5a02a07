// labdesk-agent: the hypervisor agent daemon (see docs/api/agent.md).
#include "labdesk/common/token_file.hpp"
#include <csignal>
#include <iostream>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "labdesk/agent/accel.hpp"
#include "labdesk/agent/agent.hpp"
#include "labdesk/common/log.hpp"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"labdesk-agent: runs desktops through libvirt for the labdesk boot-server"};
  std::string config_path = "/etc/labdesk/agent.toml";
  std::string level = "info";
  bool check_only = false;
  int threads = 4;
  app.add_option("-c,--config", config_path, "config file (TOML)");
  app.add_flag("--check-config", check_only, "check the config file and the token file, then exit");
  app.add_option("--log-level", level, "trace|debug|info|warn|error|off");
  app.add_option("--threads", threads, "HTTP worker threads")->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);

  auto log = labdesk::log::make_logger("agent", labdesk::log::parse_level(level));
  auto cfg = labdesk::agent::load_agent_config(config_path);
  auto token = labdesk::read_token_file(cfg.token_file);
  if (check_only) {
    auto accel = labdesk::agent::choose_accel(cfg.accel, labdesk::agent::probe_kvm());
    if (!accel) throw labdesk::Failure(accel.error());
    std::cout << "config '" << config_path << "' is valid: host '" << cfg.host << "', " << cfg.images.size()
              << " image(s), capacity " << cfg.capacity_mib << " MiB, desktops on '" << accel->accel << "'\n";
    if (!accel->warning.empty()) std::cout << "warning: " << accel->warning << "\n";
    return 0;
  }

  // Block the signals before any thread starts so only the signal_set sees them.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  boost::asio::io_context io;
  labdesk::agent::EventLoop loop;
  labdesk::agent::Agent agent(loop, cfg, token, io, log);
  agent.start();

  boost::asio::signal_set signals(io, SIGHUP, SIGTERM, SIGINT);
  boost::asio::steady_timer deadline(io);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          try {
            auto next = labdesk::agent::load_agent_config(config_path);
            agent.reload(next, labdesk::read_token_file(next.token_file));
          } catch (const std::exception& e) {
            log->error("config reload failed, keeping the running config: {}", e.what());
          }
          signals.async_wait(on_signal);
          return;
        }
        agent.drain();
        // In-flight requests get a moment to finish; parked long-polls were answered already.
        deadline.expires_after(std::chrono::seconds(2));
        deadline.async_wait([&](const boost::system::error_code&) { io.stop(); });
      };
  signals.async_wait(on_signal);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  log->info("labdesk-agent stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const labdesk::Failure& e) {
    std::cerr << "labdesk-agent: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "labdesk-agent: " << e.what() << "\n";
    return 1;
  }
}
