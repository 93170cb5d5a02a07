// The HTTP AgentPort against a stand-in agent served by our own HTTP server over loopback.
#include <doctest/doctest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <thread>

#include "labdesk/agents/http_agent.hpp"
#include "labdesk/common/log.hpp"
#include "labdesk/http/server.hpp"

using namespace labdesk;
using nlohmann::json;

namespace {

struct StandInAgent {
  StandInAgent() {
    http::Router r;
    r.add("GET", "/v1/load", [](const http::Request&) {
      api::agent::LoadReport l;
      l.host = "h1";
      l.cpu_pct = 42;
      l.nics.push_back({"eth0", 100, 200, 1000, 0.25});
      return http::Response::json(l);
    });
    r.add("GET", "/v1/desktops", [this](const http::Request&) { return http::Response::json(desktops); });
    r.add_async("POST", "/v1/desktops", [this](const http::Request& req, http::Reply reply) {
      auto spec = api::parse_strict<api::agent::CreateDesktop>(json::parse(req.body));
      if (!spec) return reply(http::Response::error(spec.error()));
      if (spec->user == "slow") {
        // A host that takes its time starting a desktop (answered from another thread).
        // Joined before the server goes: the reply (and the connection it holds) must not outlive it.
        slow.emplace_back([reply] {
          std::this_thread::sleep_for(std::chrono::seconds(3));
          reply(http::Response::json(api::agent::Desktop{}, 201));
        });
        return;
      }
      api::agent::Desktop d;
      d.name = "ld-" + spec->user + "-1";
      d.user = spec->user;
      d.memory_mib = spec->memory_mib;
      d.vnc = {"127.0.0.1", 5901, "pw"};
      desktops.push_back(d);
      reply(http::Response::json(d, 201));
    });
    r.add("DELETE", "/v1/desktops/{name}", [this](const http::Request& req) {
      auto n = req.params.at("name");
      if (std::erase_if(desktops, [&](const auto& d) { return d.name == n; }) == 0) {
        return http::Response::error("not_found", "no desktop '" + n + "'", 404);
      }
      return http::Response::json({{"destroyed", n}});
    });
    r.add("POST", "/v1/desktops/{name}/memory", [](const http::Request& req) {
      auto m = api::parse_strict<api::agent::ResizeMemory>(json::parse(req.body));
      return http::Response::json(api::agent::MemoryReport{m->memory_mib, m->memory_mib - 1});
    });
    http::ServerOptions opt;
    opt.bearer_token = "agent-token";
    server = std::make_unique<http::Server>(io, opt, std::move(r), log::make_logger("stand-in", spdlog::level::off));
    server->start();
    thread = std::thread([this] { io.run(); });
  }
  ~StandInAgent() {
    for (auto& t : slow) t.join();
    io.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }

  std::vector<api::agent::Desktop> desktops;
  boost::asio::io_context io;
  std::unique_ptr<http::Server> server;
  std::thread thread;
  std::vector<std::thread> slow;  // answers that take their time
};

}  // namespace

TEST_CASE("HttpAgent speaks the agent API") {
  StandInAgent stand_in;
  agents::HttpAgent agent(stand_in.url(), {.bearer_token = "agent-token"});
  auto load = agent.load();
  REQUIRE_MESSAGE(load.has_value(), load.error().message);
  CHECK(load->cpu_pct == 42);
  CHECK(load->nics.at(0).utilization == doctest::Approx(0.25));
  auto d = agent.create({"alice", "s1", "desktop", 2048, 4096, 1});
  REQUIRE_MESSAGE(d.has_value(), d.error().message);
  CHECK(d->vnc.port == 5901);
  CHECK(agent.list()->size() == 1);
  CHECK(agent.resize(d->name, 1024)->actual_mib == 1023);
  CHECK(agent.destroy(d->name).has_value());
  auto again = agent.destroy(d->name);
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code == "not_found");
  agents::HttpAgent wrong(stand_in.url(), {.bearer_token = "nope"});
  CHECK(wrong.load().error().status == 401);
}

TEST_CASE("a slow desktop start on a host does not hold up that host's load query") {
  StandInAgent stand_in;
  agents::HttpAgent agent(stand_in.url(), {.bearer_token = "agent-token"});
  auto creating = std::async(std::launch::async, [&] { return agent.create({"slow", "s9", "desktop", 512, 512, 1}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto t0 = std::chrono::steady_clock::now();
  auto load = agent.load();
  CHECK(load.has_value());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
  CHECK(creating.get().has_value());
}

TEST_CASE("an agent that is not there is an error within the timeout") {
  agents::HttpAgent agent("http://127.0.0.1:9", {.timeout = std::chrono::milliseconds(300)});
  auto r = agent.load();
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == "unreachable");
}

TEST_CASE("the RFB probe waits for a greeting and gives up at its timeout") {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::acceptor acc(io, {asio::ip::make_address("127.0.0.1"), 0});
  int port = acc.local_endpoint().port();
  std::thread server([&] {
    auto s = acc.accept();
    asio::write(s, asio::buffer(std::string("RFB 003.008\n")));
  });
  agents::RfbProbe probe;
  CHECK(probe.wait_ready("127.0.0.1", port, std::chrono::seconds(5)));
  server.join();
  acc.close();
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(probe.wait_ready("127.0.0.1", port, std::chrono::milliseconds(500)));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
}

#include "../../../fakes/broker_fakes.hpp"
#include "labdesk/agents/watcher.hpp"

TEST_CASE("the event watcher hands an agent's restart events to the broker") {
  fakes::ManualClock clock;
  fakes::FakeForwards forwards;
  fakes::FakeProbe probe;
  broker::MemorySessionStore store;
  std::vector<std::unique_ptr<broker::AgentPort>> ports;
  auto agent = std::make_unique<fakes::FakeAgent>("0", 4096);
  auto* fake = agent.get();
  ports.push_back(std::move(agent));
  broker::HostTable hosts({{"h0", 4096, 0}}, std::move(ports), clock);
  broker::BrokerOptions opt;
  opt.policy = alloc::Policy{{2048}, alloc::Mode::handoff, {}};
  broker::Broker b(opt, hosts, forwards, probe, store, clock, log::make_logger("w", spdlog::level::off));
  REQUIRE(b.login({"alice", "pc", "10.0.0.5"}).has_value());
  agents::EventWatcher watcher(b, hosts, std::chrono::seconds(1));
  watcher.start();
  // Events from before the watcher caught up are reconciliation's business: let it catch up.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto before = b.sessions()[0];
  fake->restart(before.desktop);
  for (int i = 0; i < 100 && b.sessions()[0].vnc.port == before.vnc.port; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(b.sessions()[0].vnc.port == before.vnc.port + 100);
  watcher.stop();
}
