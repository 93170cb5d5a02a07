// The broker's HTTP surfaces on the boot-server's server: the client API for viewers (v1, own
// session tokens), the admin REST API (the admin token), Prometheus metrics and the dashboard.
#pragma once

#include <chrono>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/logger.h>

#include "labdesk/broker/auth.hpp"
#include "labdesk/broker/broker.hpp"
#include "labdesk/http/router.hpp"

namespace labdesk::broker {

struct ApiOptions {
  std::chrono::seconds long_poll{25};  // below every sane proxy timeout, well below the grace
  // Threads for logins and logouts: they mostly wait on agents starting or stopping VMs, many at
  // once on many hosts. Password checks (argon2id: 64 MiB and ~0.1 s of CPU each) have their
  // own pool, one thread per core, so a login burst neither exhausts memory nor the CPU.
  std::size_t workers = 16;
  std::size_t hash_workers = 0;  // 0: one per core
};

class BrokerApi {
 public:
  BrokerApi(boost::asio::io_context& io, Broker& broker, Authenticator& auth, UserStore& users,
            std::shared_ptr<spdlog::logger> log, ApiOptions opt = {});
  ~BrokerApi();

  // Everything on one router (tests, single-port setups).
  void add_routes(http::Router& r);
  // The lab-facing side: the viewers' client API (session tokens, no server token).
  void add_client_routes(http::Router& r);
  // The admin side: admin REST API (server token), /metrics and the dashboard page.
  void add_admin_routes(http::Router& r);
  // Prometheus text exposition of the broker's metrics.
  std::string metrics_text();

 private:
  nlohmann::json hosts_json();

  boost::asio::io_context& io_;
  Broker& broker_;
  Authenticator& auth_;
  UserStore& users_;
  std::shared_ptr<spdlog::logger> log_;
  ApiOptions opt_;
  boost::asio::thread_pool hash_pool_;
  boost::asio::thread_pool pool_;
};

// The dashboard page (one self-contained HTML file, refreshed live from the admin API).
const std::string& dashboard_html();

}  // namespace labdesk::broker
