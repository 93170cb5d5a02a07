// The broker's HTTP surfaces end to end over loopback: a viewer's calls, an admin's calls.
#include <doctest/doctest.h>

#include <thread>

#include "../../../fakes/broker_fakes.hpp"
#include "labdesk/broker/api.hpp"
#include "labdesk/common/api/client.hpp"
#include "labdesk/common/log.hpp"
#include "labdesk/http/client.hpp"
#include "labdesk/http/server.hpp"
#include "broker_lab.hpp"

using namespace labdesk;
using nlohmann::json;

TEST_CASE("client API: login, events long-poll through a handoff, credential, logout") {
  test::ServedLab lab;
  http::Client alice(lab.url());
  auto login = alice.post_json("/v1/login", {{"user", "alice"}, {"password", "alice-pw"}, {"client_id", "pc-1"}});
  REQUIRE_MESSAGE(login.has_value(), login.error().message);
  auto a = login->get<api::client::LoginResponse>();
  CHECK(a.tier_mib == 4096);
  CHECK(a.endpoint.host == "10.77.0.1");
  CHECK_FALSE(a.endpoint.tls);

  http::Client viewer(lab.url(), {.bearer_token = a.token, .timeout = std::chrono::seconds(10)});
  // Bob then carol log in from other threads while alice's viewer waits for events.
  std::thread others([&] {
    http::Client c(lab.url());
    REQUIRE(c.post_json("/v1/login", {{"user", "bob"}, {"password", "bob-pw"}}).has_value());
    REQUIRE(c.post_json("/v1/login", {{"user", "carol"}, {"password", "carol-pw"}}).has_value());
  });
  auto t0 = std::chrono::steady_clock::now();
  auto ev = viewer.get_json(api::client::session_path(a.session, "events") + "?after=0");
  others.join();
  REQUIRE_MESSAGE(ev.has_value(), ev.error().message);
  auto batch = ev->get<api::client::EventBatch>();
  REQUIRE(batch.events.size() == 1);
  CHECK(batch.events[0].type == "moved");
  CHECK(batch.events[0].endpoint->port == a.endpoint.port);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(8));  // woken, not timed out

  auto cred = viewer.post_json(api::client::session_path(a.session, "credential"), json::object());
  REQUIRE(cred.has_value());
  // A fresh console password each time it is handed out again.
  CHECK(cred->get<api::client::Credential>().vnc_password != *batch.events[0].vnc_password);
  CHECK_FALSE(cred->get<api::client::Credential>().vnc_password.empty());
  auto ack = viewer.post_json(api::client::session_path(a.session, "ack"), {{"blackout_ms", 800}});
  CHECK(ack.has_value());
  // A repeated ack is answered but not counted again: one report per move.
  for (int i = 0; i < 3; ++i) CHECK(viewer.post_json(api::client::session_path(a.session, "ack"), {{"blackout_ms", 90000}}).has_value());
  CHECK(viewer.post_json(api::client::session_path(a.session, "ack"), {{"blackout_ms", "x"}}).error().status == 400);
  auto m = alice.request("GET", "/metrics");
  CHECK(m->body.find("labdesk_handoff_blackout_seconds_count 1\n") != std::string::npos);
  CHECK(m->body.find("labdesk_handoff_blackout_seconds_sum 0.8\n") != std::string::npos);

  auto out = viewer.request("POST", api::client::session_path(a.session, "logout"));
  REQUIRE(out.has_value());
  CHECK(out->status == 204);
  auto gone = viewer.post_json(api::client::session_path(a.session, "credential"), json::object());
  CHECK(gone.error().code == "session_gone");
}

TEST_CASE("client API: wrong password, bad input, rate limit") {
  test::ServedLab lab;
  http::Client c(lab.url());
  auto wrong = c.post_json("/v1/login", {{"user", "alice"}, {"password", "nope"}});
  CHECK(wrong.error().code == "bad_credentials");
  CHECK(wrong.error().status == 401);
  auto bad = c.request("POST", "/v1/login", "{\"user\": 3}");
  CHECK(bad->status == 400);
  auto garbage = c.request("POST", "/v1/login", "not json");
  CHECK(json::parse(garbage->body)["error"]["code"] == "bad_json");
  for (int i = 0; i < 5; ++i) (void)c.post_json("/v1/login", {{"user", "bob"}, {"password", "x"}, {"client_id", "pc-" + std::to_string(i)}});
  auto limited = c.post_json("/v1/login", {{"user", "bob"}, {"password", "bob-pw"}, {"client_id", "pc-9"}});
  CHECK(limited.error().code == "rate_limited");
  auto bad_token = c.get_json("/v1/sessions/nope/events?after=x");
  CHECK(bad_token.error().status == 400);
}

TEST_CASE("admin API: hosts, sessions, end, users, tiers, events, metrics, dashboard") {
  test::ServedLab lab;
  http::Client c(lab.url());
  REQUIRE(c.post_json("/v1/login", {{"user", "alice"}, {"password", "alice-pw"}}).has_value());
  http::Client admin(lab.url(), {.bearer_token = "admin-token"});
  CHECK(c.get_json("/v1/admin/hosts").error().status == 401);
  auto hosts = admin.get_json("/v1/admin/hosts");
  REQUIRE(hosts.has_value());
  CHECK(hosts->size() == 2);
  CHECK((*hosts)[0]["desktops"].size() + (*hosts)[1]["desktops"].size() == 1);
  auto sessions = admin.get_json("/v1/admin/sessions");
  REQUIRE(sessions->size() == 1);
  auto tiers = admin.get_json("/v1/admin/tiers");
  CHECK((*tiers)["thresholds"] == json::parse("[1,3,7,15]"));
  auto made = admin.post_json("/v1/admin/users", {{"name", "dave"}, {"password", "dave-pw"}});
  CHECK(made.has_value());
  CHECK(admin.post_json("/v1/admin/users", {{"name", "Bad/Name"}, {"password", "xxxxx"}}).error().status == 400);
  std::string id = (*sessions)[0]["id"];
  std::string here = (*sessions)[0]["host"];
  std::string other = here == "host0" ? "host1" : "host0";
  auto moved = admin.post_json("/v1/admin/sessions/" + id + "/move", {{"host", other}});
  REQUIRE_MESSAGE(moved.has_value(), moved.error().message);
  CHECK((*admin.get_json("/v1/admin/sessions"))[0]["host"] == other);
  auto leases = admin.get_json("/v1/admin/data-leases");  // the moved desktop has alice's disk
  REQUIRE(leases.has_value());
  REQUIRE(leases->size() == 1);
  CHECK((*leases)[0]["host"] == other);
  CHECK((*leases)[0]["desktop"] == (*admin.get_json("/v1/admin/sessions"))[0]["desktop"]);
  CHECK(c.post_json("/v1/login", {{"user", "dave"}, {"password", "dave-pw"}}).has_value());
  // dave's 2 GiB went to the emptied host: alice's 4 GiB cannot move back beside it.
  auto full = admin.post_json("/v1/admin/sessions/" + id + "/move", {{"host", here}});
  CHECK(full.error().status == 409);
  auto ended = admin.send_json("DELETE", "/v1/admin/sessions/" + id, nullptr);
  CHECK(ended.has_value());
  CHECK(admin.send_json("DELETE", "/v1/admin/sessions/" + id, nullptr).error().status == 404);
  auto events = admin.get_json("/v1/admin/events");
  REQUIRE(events->size() >= 3);
  auto metrics = c.request("GET", "/metrics");
  CHECK(metrics->body.find("labdesk_logins_total 2") != std::string::npos);
  CHECK(metrics->body.find("labdesk_handoffs_total 1") != std::string::npos);  // the move
  CHECK(metrics->body.find("labdesk_users_per_tier{tier_mib=\"2048\"} 1") != std::string::npos);
  auto page = c.request("GET", "/");
  CHECK(page->content_type.find("text/html") == 0);
  CHECK(page->body.find("/v1/admin/hosts") != std::string::npos);
}

TEST_CASE("admin API: an existing user is replaced only when asked, deleting a user ends their session") {
  test::ServedLab lab;
  http::Client admin(lab.url(), {.bearer_token = "admin-token"});
  http::Client pc(lab.url());
  auto again = admin.post_json("/v1/admin/users", {{"name", "alice"}, {"password", "typo-pw"}});
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().status == 409);
  CHECK(again.error().code == "user_exists");
  CHECK(pc.post_json("/v1/login", {{"user", "alice"}, {"password", "alice-pw"}}).has_value());
  CHECK(admin.post_json("/v1/admin/users", {{"name", "bob"}, {"password", "new-bob"}, {"replace", "yes"}}).error().status == 400);
  CHECK(admin.post_json("/v1/admin/users", {{"name", "bob"}, {"password", "new-bob"}, {"replace", true}}).has_value());
  CHECK(pc.post_json("/v1/login", {{"user", "bob"}, {"password", "new-bob"}}).has_value());

  auto login = pc.post_json("/v1/login", {{"user", "carol"}, {"password", "carol-pw"}});
  REQUIRE(login.has_value());
  auto carol = login->get<api::client::LoginResponse>();
  CHECK(admin.send_json("DELETE", "/v1/admin/users/carol", nullptr).error().code == "data_choice");
  auto del = admin.send_json("DELETE", "/v1/admin/users/carol?data=keep", nullptr);
  REQUIRE_MESSAGE(del.has_value(), del.error().message);
  CHECK((*del)["ended_sessions"].size() == 1);
  // Her data disk left its place on the host she used (archived), so a new carol starts empty.
  int archived = 0;
  for (const auto& h : (*del)["data"]) archived += h["found"].get<bool>() && h["mode"] == "archive" ? 1 : 0;
  CHECK(archived == 1);
  http::Client viewer(lab.url(), {.bearer_token = carol.token});
  CHECK(viewer.post_json(api::client::session_path(carol.session, "credential"), json::object()).error().code == "session_gone");
  CHECK(pc.post_json("/v1/login", {{"user", "carol"}, {"password", "carol-pw"}}).error().status == 401);
  CHECK(admin.send_json("DELETE", "/v1/admin/users/carol?data=keep", nullptr).error().status == 404);
  auto left = admin.get_json("/v1/admin/sessions");
  REQUIRE(left.has_value());
  for (const auto& s : *left) CHECK(s["user"] != "carol");
}

TEST_CASE("client API: a session id that is not UTF-8 is a 4xx, and the server lives on") {
  test::ServedLab lab;
  http::Client c(lab.url());
  for (const char* path : {"/v1/sessions/%ff/logout", "/v1/sessions/%ff/credential", "/v1/sessions/%ff%0a/ack"}) {
    auto r = c.request("POST", path, "{}");
    REQUIRE(r.has_value());
    INFO(path);
    CHECK(r->status >= 400);
    CHECK(r->status < 500);
    CHECK(json::parse(r->body)["error"]["code"].is_string());
  }
  auto ev = c.request("GET", "/v1/sessions/%ff/events?after=0");
  CHECK(ev->status == 404);
  http::Client admin(lab.url(), {.bearer_token = "admin-token"});
  CHECK(admin.send_json("DELETE", "/v1/admin/sessions/%ff", nullptr).error().status == 404);
  CHECK(admin.send_json("DELETE", "/v1/admin/users/%ff?data=delete", nullptr).error().status == 404);
  CHECK(c.post_json("/v1/login", {{"user", "alice"}, {"password", "alice-pw"}}).has_value());
}

TEST_CASE("with console_tls every endpoint handed to a viewer says TLS: login, credential, moved") {
  broker::ApiOptions o{std::chrono::seconds(5), 2};
  o.console_tls = true;
  test::ServedLab lab(o);
  http::Client alice(lab.url());
  auto login = alice.post_json("/v1/login", {{"user", "alice"}, {"password", "alice-pw"}, {"client_id", "pc-1"}});
  REQUIRE_MESSAGE(login.has_value(), login.error().message);
  auto a = login->get<api::client::LoginResponse>();
  CHECK(a.endpoint.tls);
  http::Client viewer(lab.url(), {.bearer_token = a.token, .timeout = std::chrono::seconds(10)});
  auto cred = viewer.post_json(api::client::session_path(a.session, "credential"), json::object());
  REQUIRE(cred.has_value());
  CHECK(cred->get<api::client::Credential>().endpoint.tls);
  // Bob and carol shrink alice: her move event carries the endpoint too.
  REQUIRE(alice.post_json("/v1/login", {{"user", "bob"}, {"password", "bob-pw"}}).has_value());
  REQUIRE(alice.post_json("/v1/login", {{"user", "carol"}, {"password", "carol-pw"}}).has_value());
  auto ev = viewer.get_json(api::client::session_path(a.session, "events") + "?after=0");
  REQUIRE_MESSAGE(ev.has_value(), ev.error().message);
  auto batch = ev->get<api::client::EventBatch>();
  REQUIRE(batch.events.size() == 1);
  REQUIRE(batch.events[0].endpoint.has_value());
  CHECK(batch.events[0].endpoint->tls);
}

TEST_CASE("admin API: a host that cannot retire a deleted user's data keeps the account (no disk left for a namesake)") {
  test::ServedLab lab;
  http::Client admin(lab.url(), {.bearer_token = "admin-token"});
  http::Client pc(lab.url());
  REQUIRE(pc.post_json("/v1/login", {{"user", "bob"}, {"password", "bob-pw"}}).has_value());
  auto& down = dynamic_cast<fakes::FakeAgent&>(lab.hosts->agent(1));
  down.down = true;
  auto del = admin.send_json("DELETE", "/v1/admin/users/bob?data=delete", nullptr);
  REQUIRE_FALSE(del.has_value());
  CHECK(del.error().code == "data_not_retired");
  CHECK(del.error().status == 503);
  CHECK(pc.post_json("/v1/login", {{"user", "bob"}, {"password", "bob-pw"}}).has_value());  // kept, logged out
  down.down = false;
  auto again = admin.send_json("DELETE", "/v1/admin/users/bob?data=delete", nullptr);
  REQUIRE_MESSAGE(again.has_value(), again.error().message);
  for (int i = 0; i < 2; ++i) {
    auto& a = dynamic_cast<fakes::FakeAgent&>(lab.hosts->agent(static_cast<std::size_t>(i)));
    CHECK(a.data_users.count("bob") == 0);
    CHECK(a.retired.back() == "bob:delete");
  }
}
