#include <doctest/doctest.h>

#include "labdesk/common/api/client.hpp"

namespace api = labdesk::api::client;
using nlohmann::json;

TEST_CASE("client API types round-trip through the documented JSON") {
  auto j = json::parse(R"({"session":"s-1","token":"t","endpoint":{"host":"10.77.0.1","port":6001,"tls":true},
                           "vnc_password":"ab12cd34","tier_mib":2048})");
  auto r = j.get<api::LoginResponse>();
  CHECK(r.endpoint == api::Endpoint{"10.77.0.1", 6001, true});
  CHECK(json(r) == j);

  auto e = json::parse(R"({"events":[{"seq":3,"type":"moved","endpoint":{"host":"h","port":1,"tls":false},
                           "vnc_password":"p"},{"seq":4,"type":"ended","reason":"bye"}]})");
  auto b = e.get<api::EventBatch>();
  REQUIRE(b.events.size() == 2);
  CHECK(b.events[0].endpoint->port == 1);
  CHECK_FALSE(b.events[1].endpoint.has_value());
  CHECK(b.events[1].reason == "bye");
  CHECK(json(b) == e);

  CHECK(json(api::LoginRequest{"u", "p", "pc-07"}).dump() ==
        R"({"client_id":"pc-07","password":"p","user":"u"})");
  CHECK(api::session_path("s-1", "events") == "/v1/sessions/s-1/events");
}

TEST_CASE("queue position is read from the error body when present") {
  CHECK(api::queue_position(json::parse(
            R"({"error":{"code":"no_capacity","message":"m","queue_position":4}})")) == 4U);
  CHECK_FALSE(api::queue_position(json::parse(R"({"error":{"code":"no_capacity","message":"m"}})")));
  CHECK_FALSE(api::queue_position(json::parse(R"([1])")));
}

TEST_CASE("a malformed body is rejected, not half-read") {
  CHECK_THROWS(json::parse(R"({"session":"s"})").get<api::LoginResponse>());
  CHECK_THROWS(json::parse(R"({"endpoint":{"host":"h","port":70000},"vnc_password":"p"})")
                   .get<api::Credential>());
}
