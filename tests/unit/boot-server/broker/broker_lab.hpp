// A broker with two fake 4 GiB agents, served over loopback by the real HTTP server: what the
// API tests and the dashboard test talk to.
#pragma once

#include <thread>

#include "../../../fakes/broker_fakes.hpp"
#include "labdesk/broker/api.hpp"
#include "labdesk/common/log.hpp"
#include "labdesk/http/server.hpp"

namespace labdesk::test {

// A broker with two fake 4 GiB agents and users alice, bob, carol ("<name>-pw"), and its API on
// `io` (run by whoever serves it).
struct BrokerParts {
  explicit BrokerParts(broker::ApiOptions api_opt = {std::chrono::seconds(5), 2},
                       broker::HashCost cost = broker::HashCost::interactive) {
    std::vector<broker::HostSpec> specs;
    std::vector<std::unique_ptr<broker::AgentPort>> ports;
    for (int i = 0; i < 2; ++i) {
      ports.push_back(std::make_unique<fakes::FakeAgent>(std::to_string(i), 4096));
      specs.push_back({"host" + std::to_string(i), 4096, 0});
    }
    hosts = std::make_unique<broker::HostTable>(specs, std::move(ports), clock);
    broker::BrokerOptions opt;
    opt.lab_address = "10.77.0.1";
    opt.policy = alloc::Policy{{4096, 2048, 1024, 512}, alloc::Mode::handoff, {}};
    brk = std::make_unique<broker::Broker>(opt, *hosts, forwards, probe, store, clock, log);
    for (const char* u : {"alice", "bob", "carol"}) {
      users.put({u, broker::hash_password(std::string(u) + "-pw", cost), false});
    }
    auth = std::make_unique<broker::Authenticator>(users, clock);
    api = std::make_unique<broker::BrokerApi>(io, *brk, *auth, users, log, api_opt);
  }

  std::shared_ptr<spdlog::logger> log = log::make_logger("broker-api-test", spdlog::level::off);
  broker::SteadyClock clock;
  fakes::FakeForwards forwards;
  fakes::FakeProbe probe;
  broker::MemorySessionStore store;
  broker::MemoryUserStore users;
  std::unique_ptr<broker::HostTable> hosts;
  std::unique_ptr<broker::Broker> brk;
  std::unique_ptr<broker::Authenticator> auth;
  boost::asio::io_context io;
  std::unique_ptr<broker::BrokerApi> api;
};

// BrokerParts served over loopback by the real HTTP server (admin token "admin-token").
struct ServedLab : BrokerParts {
  explicit ServedLab(broker::ApiOptions api_opt = {std::chrono::seconds(5), 2}) : BrokerParts(api_opt) {
    http::Router r;
    api->add_routes(r);
    http::ServerOptions so;
    so.bearer_token = "admin-token";
    server = std::make_unique<http::Server>(io, so, std::move(r), log);
    server->start();
    thread = std::thread([this] { io.run(); });
  }
  ~ServedLab() {
    server->stop();
    io.stop();
    thread.join();
  }
  ServedLab(const ServedLab&) = delete;
  ServedLab& operator=(const ServedLab&) = delete;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }

  std::unique_ptr<http::Server> server;
  std::thread thread;
};

}  // namespace labdesk::test
