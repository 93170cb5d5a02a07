// labdesk-boot-server's network plane wired together: store, boot files, dnsmasq, HTTP, NAT.
// Start is all-or-nothing: preflight() checks everything it can without changing the machine,
// start() brings the parts up in an order where a failure undoes what came before.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <spdlog/logger.h>

#include "config/lab_config.hpp"
#include "labdesk/http/router.hpp"
#include "labdesk/http/server.hpp"
#include "nat/forward_table.hpp"
#include "nat/nft.hpp"
#include "pxe/boot_files.hpp"
#include "pxe/file_server.hpp"
#include "pxe/render.hpp"
#include "pxe/supervisor.hpp"
#include "store/store.hpp"

namespace labdesk::boot {

// Seams for the broker: its migrations and its routes on the lab-facing and admin servers.
struct Extensions {
  std::vector<Migration> migrations;
  // Called once the store and the forward table exist, before any route or server: the broker
  // is built here.
  std::function<void(Store& store, broker::ForwardPort& forwards)> attach;
  std::function<void(http::Router& lab, http::Router& admin)> routes;
  // Called before the APIs accept anything: the broker reconciles here, and its sessions'
  // forwards build the nftables table (ForwardTable::rebuild), once.
  std::function<void()> started;
};

class BootServer {
 public:
  BootServer(boost::asio::io_context& control, config::LabConfig config, std::string config_path,
             std::shared_ptr<spdlog::logger> log, Extensions ext = {});
  ~BootServer();

  // Every check that needs no change to the machine: required settings, the lab interface and
  // address (libnl), boot files, `dnsmasq --test` of the rendered config. Throws
  // labdesk::Failure listing each problem.
  void preflight() const;
  // Store → boot files → HTTP → nftables → dnsmasq; throws (after undoing) on failure.
  void start(std::size_t http_threads = 2);
  // SIGHUP: re-read the config file; a bad file keeps the running config.
  void reload();
  // SIGTERM: stop accepting, stop dnsmasq, let transfers finish for `grace`, then stop.
  void drain(std::chrono::milliseconds grace);
  void join();

  [[nodiscard]] Store& store() { return *store_; }
  [[nodiscard]] DnsmasqSupervisor& dnsmasq() { return *dnsmasq_; }
  [[nodiscard]] BootFiles& boot_files() { return *boot_files_; }
  [[nodiscard]] std::uint16_t http_port() const;
  [[nodiscard]] std::uint16_t api_port() const;
  [[nodiscard]] std::uint16_t https_port() const;  // 0: tls.enabled is false

 private:
  struct Paths;
  [[nodiscard]] std::shared_ptr<const config::LabConfig> config() const;
  [[nodiscard]] std::vector<std::string> loaders(const config::LabConfig& c) const;
  [[nodiscard]] DnsmasqPaths dnsmasq_paths() const;
  [[nodiscard]] nlohmann::json dnsmasq_status() const;
  // Writes the rendered files; returns {config changed, hosts changed}.
  std::pair<bool, bool> write_dnsmasq_files(const config::LabConfig& c);

  boost::asio::io_context& control_;
  boost::asio::io_context http_io_;
  std::string config_path_;
  std::shared_ptr<spdlog::logger> log_;
  Extensions ext_;
  mutable std::mutex mu_;
  std::shared_ptr<const config::LabConfig> config_;
  std::filesystem::path state_;

  std::unique_ptr<Store> store_;
  std::unique_ptr<BootFiles> boot_files_;
  std::unique_ptr<LibNftables> nft_;
  std::unique_ptr<ForwardTable> forwards_;
  std::unique_ptr<DnsmasqSupervisor> dnsmasq_;
  std::unique_ptr<http::Server> lab_http_;
  std::unique_ptr<http::Server> lab_https_;  // the lab API over TLS
  std::shared_ptr<spdlog::logger> pxe_log_;  // boot files, dnsmasq, the file server
  std::shared_ptr<spdlog::logger> nat_log_;  // forwards and nftables
  std::unique_ptr<http::Server> admin_http_;
  std::unique_ptr<BootFileServer> file_server_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

// Required-for-the-boot-server settings that the shared schema leaves optional.
config::Problems boot_server_problems(const config::LabConfig& c);

}  // namespace labdesk::boot
