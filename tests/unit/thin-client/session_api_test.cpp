// The viewer's HTTP client API against a labdesk_http server speaking client API v1 on loopback:
// the JSON both ways, the Bearer token, the error shape with queue_position, and "unreachable".
#include <doctest/doctest.h>

#include <thread>

#include "labdesk/common/log.hpp"
#include "labdesk/http/server.hpp"
#include "labdesk/viewer/session_api.hpp"

using namespace labdesk;
using namespace labdesk::viewer;
using nlohmann::json;

namespace {

struct Broker {
  std::string seen_token, seen_client;
  long acked = -1;

  http::Router router() {
    http::Router r;
    r.add("POST", "/v1/login", [this](const http::Request& req) {
      auto b = json::parse(req.body);
      seen_client = b.value("client_id", "");
      if (b["user"] == "busy")
        return http::Response::json({{"error", {{"code", "no_capacity"}, {"message", "full"}, {"queue_position", 3}}}}, 503);
      if (b["password"] != "secret") return http::Response::error("bad_credentials", "no", 401);
      return http::Response::json({{"session", "s-9"}, {"token", "tok"},
                                   {"endpoint", {{"host", "10.0.0.5"}, {"port", 6001}}},
                                   {"vnc_password", "pw"}, {"tier_mib", 1024}});
    }, http::Auth::none);
    r.add("POST", "/v1/sessions/{id}/credential", [this](const http::Request& req) {
      seen_token = req.header("authorization");
      if (req.params.at("id") != "s-9") return http::Response::error("session_gone", "gone", 404);
      return http::Response::json({{"endpoint", {{"host", "10.0.0.6"}, {"port", 6002}}}, {"vnc_password", "pw2"}});
    }, http::Auth::none);
    r.add("GET", "/v1/sessions/{id}/events", [](const http::Request& req) {
      if (req.query_or("after", "") != "4") return http::Response::json({{"events", json::array()}});
      return http::Response::json({{"events", {{{"seq", 5}, {"type", "moved"},
                                                {"endpoint", {{"host", "h"}, {"port", 7}}}, {"vnc_password", "p"}}}}});
    }, http::Auth::none);
    r.add("POST", "/v1/sessions/{id}/ack", [this](const http::Request& req) {
      acked = json::parse(req.body).value("blackout_ms", -2L);
      return http::Response::json({{"ok", true}});
    }, http::Auth::none);
    r.add("POST", "/v1/sessions/{id}/logout", [](const http::Request&) {
      http::Response ok;
      ok.status = 204;
      return ok;
    }, http::Auth::none);
    return r;
  }
};

class Running {
 public:
  explicit Running(http::Router r)
      : server_(io_, http::ServerOptions{}, std::move(r), log::make_logger("api-test", spdlog::level::off)) {
    server_.start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Running() {
    server_.stop();
    io_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }

 private:
  boost::asio::io_context io_;
  http::Server server_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("login, credential, events, ack and logout over HTTP") {
  Broker b;
  Running srv(b.router());
  auto client = make_http_session_api(srv.url());
  auto ok = client->login({"ana", "secret", "pc-07"});
  REQUIRE(ok.has_value());
  CHECK(ok->session == "s-9");
  CHECK(ok->endpoint == labdesk::api::client::Endpoint{"10.0.0.5", 6001});
  CHECK(ok->tier_mib == 1024);
  CHECK(b.seen_client == "pc-07");

  auto c = client->credential("s-9", "tok");
  REQUIRE(c.has_value());
  CHECK(c->vnc_password == "pw2");
  CHECK(b.seen_token == "Bearer tok");

  auto e = client->events("s-9", "tok", 4, std::chrono::seconds(1));
  REQUIRE(e.has_value());
  REQUIRE(e->events.size() == 1);
  CHECK(e->events[0].type == "moved");
  CHECK(e->events[0].endpoint->port == 7);

  CHECK(client->ack("s-9", "tok", 120).has_value());
  CHECK(b.acked == 120);
  CHECK(client->logout("s-9", "tok").has_value());
}

TEST_CASE("API errors keep their code, no_capacity brings the queue position") {
  Broker b;
  Running srv(b.router());
  auto client = make_http_session_api(srv.url());
  auto bad = client->login({"ana", "wrong", "pc"});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().error.code == "bad_credentials");
  CHECK(bad.error().error.status == 401);
  auto busy = client->login({"busy", "secret", "pc"});
  REQUIRE_FALSE(busy.has_value());
  CHECK(busy.error().error.code == "no_capacity");
  CHECK(busy.error().queue_position == 3U);
  auto gone = client->credential("s-1", "tok");
  REQUIRE_FALSE(gone.has_value());
  CHECK(gone.error().code == "session_gone");
}

TEST_CASE("a boot-server that is not there is 'unreachable', with its address") {
  auto client = make_http_session_api("http://127.0.0.1:1");
  auto r = client->login({"ana", "secret", "pc"});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().error.code == kUnreachable);
  CHECK(r.error().error.message.find("'http://127.0.0.1:1'") != std::string::npos);
}
