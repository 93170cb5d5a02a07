// A boot-server broker for load tests: the real Broker, BrokerApi and HTTP server, with N stand-in
// agents (in-process, or real labdesk-agent URLs with --agent, e.g. agents on test:///default),
// and generated users u0..uN-1 whose password is "pw" (cheap argon2id: the load test measures the
// broker, not password hashing). Prints "ready PORT" when it listens.
#include <sys/resource.h>

#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>

#include "../tests/fakes/broker_fakes.hpp"
#include "labdesk/agents/http_agent.hpp"
#include "labdesk/broker/api.hpp"
#include "labdesk/common/log.hpp"
#include "labdesk/http/server.hpp"

using namespace labdesk;

namespace {
// Always ready: stand-in desktops have no VNC server to probe.
class NoProbe final : public broker::VncProbe {
 public:
  bool wait_ready(const std::string&, int, std::chrono::milliseconds) override { return true; }
};
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"broker load-test server"};
  int port = 0, hosts = 8, users = 3000, long_poll = 20, threads = 2;
  std::int64_t host_mib = 1 << 20;
  std::vector<std::string> agent_urls;
  std::string agent_token;
  app.add_option("--port", port);
  app.add_option("--hosts", hosts, "stand-in agents (ignored with --agent)");
  app.add_option("--host-mib", host_mib, "capacity of each host");
  app.add_option("--users", users, "generated users u0..");
  app.add_option("--long-poll", long_poll, "seconds an events request is held");
  app.add_option("--threads", threads, "HTTP threads");
  bool shared_loop = false;
  app.add_flag("--shared-loop", shared_loop, "connections on strands of one event loop run by all threads (not the server's own loops)");
  app.add_option("--agent", agent_urls, "real agent URL (repeatable)");
  app.add_option("--agent-token", agent_token);
  CLI11_PARSE(app, argc, argv);

  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);

  auto log = log::make_logger("bench-broker", spdlog::level::warn);
  broker::SteadyClock clock;
  std::vector<broker::HostSpec> specs;
  std::vector<std::unique_ptr<broker::AgentPort>> ports;
  if (agent_urls.empty()) {
    for (int i = 0; i < hosts; ++i) {
      ports.push_back(std::make_unique<fakes::FakeAgent>(std::to_string(i), host_mib));
      specs.push_back({"host" + std::to_string(i), host_mib, 0});
    }
  } else {
    for (std::size_t i = 0; i < agent_urls.size(); ++i) {
      ports.push_back(std::make_unique<agents::HttpAgent>(agent_urls[i], http::ClientOptions{.bearer_token = agent_token}));
      specs.push_back({"host" + std::to_string(i), host_mib, 0});
    }
  }
  broker::HostTable table(specs, std::move(ports), clock);
  fakes::FakeForwards forwards;
  NoProbe probe;
  broker::MemorySessionStore store;
  broker::BrokerOptions opt;
  opt.lab_address = "127.0.0.1";
  opt.port_count = users + 16;
  opt.policy = alloc::Policy{{4096, 2048, 1024, 512}, alloc::Mode::handoff, {}};
  opt.grace = std::chrono::seconds(600);
  broker::Broker brk(opt, table, forwards, probe, store, clock, log);
  // As the boot-server does: desktops left on real agents by an earlier run belong to nobody.
  if (auto r = brk.reconcile(); !r) std::cerr << "reconcile: " << r.error().message << "\n";
  broker::MemoryUserStore user_store;
  const auto hash = broker::hash_password("pw", broker::HashCost::minimal);
  for (int i = 0; i < users; ++i) user_store.put({"u" + std::to_string(i), hash, false});
  broker::RateLimitOptions limits{1 << 30, std::chrono::seconds(1), std::chrono::seconds(1)};
  broker::Authenticator auth(user_store, clock, limits);

  boost::asio::io_context io;
  broker::BrokerApi api(io, brk, auth, user_store, log, {.long_poll = std::chrono::seconds(long_poll)});
  http::Router router;
  api.add_routes(router);
  http::ServerOptions so;
  so.port = static_cast<std::uint16_t>(port);
  so.bearer_token = "bench-admin";
  so.read_timeout = std::chrono::seconds(long_poll + 30);
  so.io_threads = shared_loop ? 0 : static_cast<std::size_t>(threads);  // as the boot-server's lab API
  http::Server server(io, so, std::move(router), log);
  server.start();
  boost::asio::signal_set stop(io, SIGTERM, SIGINT);
  stop.async_wait([&](auto, int) {
    server.stop();
    server.halt();
    io.stop();
  });
  std::cout << "ready " << server.port() << std::endl;
  std::vector<std::thread> pool;
  // With the server's own loops the shared io_context only accepts and times long-polls: one thread.
  for (int i = 1; shared_loop && i < threads; ++i) pool.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  return 0;
}
