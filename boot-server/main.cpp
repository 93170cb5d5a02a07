// labdesk-boot-server: the lab's PXE/DHCP/TFTP (through dnsmasq), boot files over HTTP, client
// announces and NAT. Exit codes: 0 fine, 1 could not start, 2 bad config or usage.
#include <csignal>
#include <filesystem>
#include <iostream>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "app/boot_server.hpp"
#include "app/broker_service.hpp"
#include "tls/lab_ca.hpp"
#include "labdesk/common/log.hpp"

namespace {

// Consoles are dialled at the boot-server's lab address (their forwards), so that is the name
// their certificate must hold, whichever host runs the desktop.
int issue_console_certificate(const labdesk::config::LabConfig& cfg, const std::string& dir, std::vector<std::string> names,
                              spdlog::logger& log) {
  if (!cfg.tls.cert.empty()) {
    std::cerr << "labdesk-boot-server: the lab uses your own CA (tls.ca '" << cfg.tls.ca
              << "'): issue console certificates from it, for the lab address\n";
    return 2;
  }
  const std::string lab_ip = cfg.lab.address.substr(0, cfg.lab.address.find('/'));
  if (names.empty()) names.push_back(lab_ip);
  if (names.front().empty()) {
    std::cerr << "labdesk-boot-server: lab.address is not set: give --console-name ADDRESS\n";
    return 2;
  }
  const std::filesystem::path tls = std::filesystem::path(cfg.boot.state_dir) / "tls";
  labdesk::boot::ensure_own_lab_tls(tls, {lab_ip.empty() ? names.front() : lab_ip}, log);
  labdesk::boot::issue_console_certificate(tls, names, dir);
  std::cout << "labdesk-boot-server: console certificate for";
  for (const auto& n : names) std::cout << " '" << n << "'";
  std::cout << " in '" << dir << "': copy it to each host's /etc/pki/libvirt-vnc and set vnc_tls = 1 in its qemu.conf\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"labdesk-boot-server: PXE boot, boot files, client announces and NAT for a labdesk lab"};
  std::string config_path = "/etc/labdesk/lab.toml";
  std::string level = "info";
  bool check_only = false;
  std::string console_dir;
  std::vector<std::string> console_names;
  app.add_option("-c,--config", config_path, "the lab config (TOML)");
  app.add_flag("--check-config", check_only, "check the config (and the lab interface, boot files, dnsmasq) and exit");
  app.add_option("--issue-console-certificate", console_dir,
                 "write a console certificate from the lab CA into DIR (ca-cert.pem, server-cert.pem, server-key.pem: "
                 "copy DIR to each host's /etc/pki/libvirt-vnc) and exit");
  app.add_option("--console-name", console_names,
                 "an address or name the console certificate holds (default: the lab address, which viewers dial)");
  app.add_option("--log-level", level, "trace|debug|info|warn|error|off");
  CLI11_PARSE(app, argc, argv);

  try {
    auto log = labdesk::log::make_logger("boot-server", labdesk::log::parse_level(level));
    labdesk::config::LabConfig cfg = labdesk::config::load_lab_config(config_path);
    if (!console_dir.empty()) return issue_console_certificate(cfg, console_dir, console_names, *log);
    boost::asio::io_context control;
    labdesk::boot::BrokerService broker(control, cfg, log->clone("broker"));
    labdesk::boot::BootServer server(control, cfg, config_path, log, broker.extensions());
    server.preflight();
    if (check_only) {
      std::cout << "labdesk-boot-server: config '" << config_path << "' is OK\n";
      return 0;
    }
    ::signal(SIGPIPE, SIG_IGN);
    // Signals are caught from before start: a SIGHUP during start-up must not kill us.
    boost::asio::signal_set signals(control, SIGHUP, SIGTERM, SIGINT);
    server.start();
    std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        log->info("SIGHUP: reloading '{}'", config_path);
        server.reload();
        signals.async_wait(on_signal);
        return;
      }
      log->info("signal {}: draining (up to 3 s for transfers in flight)", sig);
      broker.stop();  // its timers would keep the control loop alive
      server.drain(std::chrono::milliseconds(3000));
    };
    signals.async_wait(on_signal);
    control.run();
    broker.stop();
    server.join();
    log->info("boot-server stopped");
    return 0;
  } catch (const labdesk::config::ConfigError& e) {
    std::cerr << "labdesk-boot-server: not started: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "labdesk-boot-server: not started: " << e.what() << "\n";
    return 1;
  }
}
