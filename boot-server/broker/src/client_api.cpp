// Client API v1 (common/api/client.hpp): login, credential, events (long-poll), logout, ack.
#include <algorithm>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "labdesk/broker/api.hpp"
#include "labdesk/common/api/client.hpp"
#include "labdesk/http/server.hpp"

namespace labdesk::broker {

namespace asio = boost::asio;
using nlohmann::json;
namespace capi = api::client;

namespace {

std::string bearer(const http::Request& req) {
  auto h = req.header("authorization");
  return h.starts_with("Bearer ") ? h.substr(7) : std::string();
}

capi::Endpoint endpoint(const Endpoint& e, bool tls) { return {e.host, static_cast<std::uint16_t>(e.port), tls}; }

json event_json(const SessionEvent& e, bool tls) {
  capi::Event out{e.seq, e.type, std::nullopt, std::nullopt, std::nullopt};
  if (e.endpoint) out.endpoint = endpoint(*e.endpoint, tls);
  if (!e.vnc_password.empty()) out.vnc_password = e.vnc_password;
  if (!e.reason.empty()) out.reason = e.reason;
  return out;
}

}  // namespace

BrokerApi::BrokerApi(asio::io_context& io, Broker& broker, Authenticator& auth, UserStore& users,
                     std::shared_ptr<spdlog::logger> log, ApiOptions opt)
    : io_(io), broker_(broker), auth_(auth), users_(users), log_(std::move(log)), opt_(opt),
      hash_pool_(opt.hash_workers ? opt.hash_workers : std::max(1U, std::thread::hardware_concurrency())),
      pool_(opt.workers) {}

BrokerApi::~BrokerApi() {
  hash_pool_.join();
  pool_.join();
}

void BrokerApi::add_routes(http::Router& router) {
  add_client_routes(router);
  add_admin_routes(router);
}

void BrokerApi::add_client_routes(http::Router& router) {
  router.add_async("POST", "/v1/login", [this](const http::Request& req, http::Reply reply) {
    auto body = req.json();
    if (!body) return reply(http::Response::error(body.error()));
    capi::LoginRequest login;
    try {
      login = body->get<capi::LoginRequest>();
    } catch (const std::exception&) {
      return reply(http::Response::error("bad_request", "login needs \"user\" and \"password\" strings", 400));
    }
    if (login.client_id.empty()) login.client_id = req.remote_address;
    // Password hashing and VM starts take time: off the network threads, in bounded queues (a
    // burst of logins past them is told to come back, not queued without end).
    auto hashing = std::make_shared<Slot>(hashing_, opt_.max_queued_logins);
    if (!hashing->held()) return reply(http::busy("the password check queue"));
    asio::post(hash_pool_, http::guarded(reply, log_, [this, login, ip = req.remote_address, reply, hashing] {
      // Limits are keyed by the address the request came from: client_id is the client's word.
      auto user = auth_.check(login.user, login.password, ip);
      hashing->release();
      if (!user) return reply(http::Response::error(user.error()));
      auto starting = std::make_shared<Slot>(starting_, opt_.max_queued_logins);
      if (!starting->held()) return reply(http::busy("the desktop start queue"));
      asio::post(pool_, http::guarded(reply, log_, [this, login, ip, reply, starting] {
        auto r = broker_.login({login.user, login.client_id, ip});
        if (!r) return reply(http::Response::error(r.error()));
        capi::LoginResponse out{r->session, r->token, endpoint(r->endpoint, opt_.console_tls), r->vnc_password,
                                static_cast<std::uint32_t>(r->tier_mib)};
        reply(http::Response::json(out));
      }));
    }));
  }, http::Auth::none);

  router.add("POST", "/v1/sessions/{id}/credential", [this](const http::Request& req) {
    auto c = broker_.credential(req.params.at("id"), bearer(req), req.remote_address);
    if (!c) return http::Response::error(c.error());
    return http::Response::json(capi::Credential{endpoint(c->endpoint, opt_.console_tls), c->vnc_password});
  }, http::Auth::none);

  router.add_async("GET", "/v1/sessions/{id}/events", [this](const http::Request& req, http::Reply reply) {
    std::uint64_t after = 0;
    try {
      after = std::stoull(req.query_or("after", "0"));
    } catch (const std::exception&) {
      return reply(http::Response::error("bad_request", "after='" + req.query_or("after", "") + "' is not a number", 400));
    }
    std::string id = req.params.at("id");
    std::string token = bearer(req);
    auto first = broker_.events(id, token, after, req.remote_address);
    if (!first) return reply(http::Response::error(first.error()));
    if (!first->empty()) {
      json batch{{"events", json::array()}};
      for (const auto& e : *first) batch["events"].push_back(event_json(e, opt_.console_tls));
      return reply(http::Response::json(batch));
    }
    auto timer = std::make_shared<asio::steady_timer>(io_, opt_.long_poll);
    auto answer = [this, id, token, after, reply, timer, ip = req.remote_address] {
      timer->cancel();
      auto evs = broker_.events(id, token, after, ip);
      if (!evs) return reply(http::Response::error(evs.error()));
      json batch{{"events", json::array()}};
      for (const auto& e : *evs) batch["events"].push_back(event_json(e, opt_.console_tls));
      reply(http::Response::json(batch));
    };
    timer->async_wait([answer](boost::system::error_code ec) {
      if (!ec) answer();
    });
    broker_.wait_events(id, after, [this, answer] { asio::post(io_, answer); });
  }, http::Auth::none);

  router.add_async("POST", "/v1/sessions/{id}/logout", [this](const http::Request& req, http::Reply reply) {
    asio::post(pool_, http::guarded(reply, log_, [this, id = req.params.at("id"), token = bearer(req), reply,
                                                  ip = req.remote_address] {
      auto r = broker_.logout(id, token, ip);
      if (!r) return reply(http::Response::error(r.error()));
      http::Response ok;
      ok.status = 204;
      reply(ok);
    }));
  }, http::Auth::none);

  // The viewer reports the blackout it saw after following a move (for the metrics).
  router.add("POST", "/v1/sessions/{id}/ack", [this](const http::Request& req) {
    auto body = req.json();
    if (!body) return http::Response::error(body.error());
    if (!body->is_object() || (body->contains("blackout_ms") && !(*body)["blackout_ms"].is_number())) {
      return http::Response::error("bad_request", "an ack needs {\"blackout_ms\": <number>}", 400);
    }
    double blackout = body->value("blackout_ms", -1.0) / 1000.0;
    auto r = broker_.ack(req.params.at("id"), bearer(req), blackout);
    if (!r) return http::Response::error(r.error());
    return http::Response::json({{"ok", true}});
  }, http::Auth::none);
}

}  // namespace labdesk::broker
