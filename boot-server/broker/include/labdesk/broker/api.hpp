// The broker's HTTP surfaces on the boot-server's server: the client API for viewers (v1, own
// session tokens), the admin REST API (the admin token), Prometheus metrics and the dashboard.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/logger.h>

#include "labdesk/broker/auth.hpp"
#include "labdesk/broker/broker.hpp"
#include "labdesk/common/api/agent.hpp"
#include "labdesk/http/router.hpp"

namespace labdesk::broker {

// POST /v1/admin/sessions/{id}/move
struct MoveSession {
  std::string host;
  bool live = false;  // true: live migration (the same guest runs on); false: a hard handoff
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MoveSession, host, live)

struct ApiOptions {
  std::chrono::seconds long_poll{25};  // below every sane proxy timeout, well below the grace
  // Threads for logins and logouts: they mostly wait on agents starting or stopping VMs, many at
  // once on many hosts. Password checks (argon2id: 64 MiB and ~0.1 s of CPU each) have their
  // own pool, one thread per core, so a login burst neither exhausts memory nor the CPU.
  std::size_t workers = 16;
  std::size_t hash_workers = 0;  // 0: one per core
  // Logins waiting for a password check, and checked logins waiting for a desktop start, each at
  // most this many; past it a login answers 429 with Retry-After.
  std::size_t max_queued_logins = 1024;
  // Every desktop's console speaks VeNCrypt x509 (the hosts' libvirt has vnc_tls = 1): endpoints
  // say so, and viewers then refuse a console without TLS.
  bool console_tls = false;
};

// A place in a bounded queue: held from construction (if there was room) until release() or
// destruction.
class Slot {
 public:
  Slot(std::atomic<std::size_t>& count, std::size_t limit) : count_(count) {
    held_ = count_.fetch_add(1) < limit;
    if (!held_) count_.fetch_sub(1);
  }
  ~Slot() { release(); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  [[nodiscard]] bool held() const { return held_; }
  void release() {
    if (std::exchange(held_, false)) count_.fetch_sub(1);
  }

 private:
  std::atomic<std::size_t>& count_;
  bool held_ = false;
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
  // Ends the user's sessions and retires their data on every host; the account goes only if
  // every host did.
  http::Response delete_user(const std::string& name, bool delete_data);

  boost::asio::io_context& io_;
  Broker& broker_;
  Authenticator& auth_;
  UserStore& users_;
  std::shared_ptr<spdlog::logger> log_;
  ApiOptions opt_;
  std::atomic<std::size_t> hashing_{0};
  std::atomic<std::size_t> starting_{0};
  boost::asio::thread_pool hash_pool_;
  boost::asio::thread_pool pool_;
};

// The dashboard page (one self-contained HTML file, refreshed live from the admin API).
const std::string& dashboard_html();

}  // namespace labdesk::broker
