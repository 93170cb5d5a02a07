// The broker inside labdesk-boot-server: built from the lab config once the store and the
// forward table exist (Extensions::attach), serving the client API on the lab side and the admin
// API, metrics and dashboard on the admin side (Extensions::routes), reconciling with the agents
// and following their events once everything runs (Extensions::started).
#pragma once

#include <atomic>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/logger.h>

#include "app/boot_server.hpp"
#include "labdesk/agents/http_agent.hpp"
#include "labdesk/agents/watcher.hpp"
#include "labdesk/broker/api.hpp"
#include "store/broker_store.hpp"

namespace labdesk::boot {

class BrokerService {
 public:
  BrokerService(boost::asio::io_context& control, config::LabConfig config,
                std::shared_ptr<spdlog::logger> log);
  ~BrokerService();

  // The hooks to pass to BootServer.
  Extensions extensions();
  void stop();

 private:
  void attach(Store& store, broker::ForwardPort& forwards);
  void started();
  void schedule_sweep();
  void schedule_rebalance();

  config::LabConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  broker::SteadyClock clock_;
  agents::RfbProbe probe_;
  boost::asio::io_context api_io_;  // long-poll timers of the client API
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> api_work_;
  std::thread api_thread_;
  std::unique_ptr<SqliteSessionStore> sessions_;
  std::unique_ptr<SqliteUserStore> users_;
  std::unique_ptr<broker::HostTable> hosts_;
  std::unique_ptr<broker::Broker> broker_;
  std::unique_ptr<broker::Authenticator> auth_;
  std::unique_ptr<broker::BrokerApi> api_;
  std::unique_ptr<agents::EventWatcher> watcher_;
  boost::asio::steady_timer sweep_;
  // Grace expiry destroys desktops (agent calls, seconds each): on a thread of its own, so it
  // never delays the long-poll answers on api_io_. One sweep at a time.
  boost::asio::thread_pool sweep_pool_{1};
  std::atomic<bool> sweeping_{false};
  boost::asio::steady_timer rebalance_timer_;
  boost::asio::thread_pool rebalance_pool_{1};  // one rebalancing look (maybe a migration) at a time
  std::atomic<bool> rebalancing_{false};
  bool stopping_ = false;
};

}  // namespace labdesk::boot
