#include <doctest/doctest.h>

#include "labdesk/common/api/agent.hpp"
#include "labdesk/common/api/client.hpp"

using namespace labdesk;
using nlohmann::json;

TEST_CASE("agent API types round-trip through JSON") {
  api::agent::Desktop d{"ld-alice-1", "alice", "s1", "debian", 1, "running", 2048, 4096,
                        {"10.0.0.2", 5901, ""}, 0};
  json j = d;
  auto back = j.get<api::agent::Desktop>();
  CHECK(back.name == d.name);
  CHECK(back.vnc.port == 5901);
  CHECK(j["max_memory_mib"] == 4096);
}

TEST_CASE("strict parsing names the unknown key and suggests the right one") {
  auto ok = api::parse_strict<api::agent::CreateDesktop>(
      json{{"user", "alice"}, {"session", "s"}, {"image", "deb"}, {"memory_mib", 1024}});
  REQUIRE(ok.has_value());
  CHECK(ok->memory_mib == 1024);
  CHECK(ok->max_memory_mib == 0);
  auto typo = api::parse_strict<api::agent::CreateDesktop>(json{{"memry_mib", 1}});
  REQUIRE_FALSE(typo.has_value());
  CHECK(typo.error().message == "unknown key 'memry_mib' in request: did you mean 'memory_mib'?");
  auto type = api::parse_strict<api::agent::CreateDesktop>(json{{"memory_mib", "lots"}});
  REQUIRE_FALSE(type.has_value());
  CHECK(type.error().status == 400);
  CHECK_FALSE(api::parse_strict<api::agent::CreateDesktop>(json::array()).has_value());
}

TEST_CASE("a whole-number field given a fraction or a number past its range is a 400 naming the key, not a cast") {
  for (const char* body : {R"({"memory_mib": 2.5e81})", R"({"memory_mib": 512.5})", R"({"memory_mib": -1e300})"}) {
    CAPTURE(body);
    auto r = api::parse_strict<api::agent::ResizeMemory>(json::parse(body));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 400);
    CHECK(r.error().message.find("'memory_mib' must be a whole number") != std::string::npos);
  }
  // Nested: an endpoint's port inside a credential.
  auto nested = api::parse_strict<api::client::Credential>(json::parse(R"({"endpoint": {"host": "h", "port": 1e30}})"));
  REQUIRE_FALSE(nested.has_value());
  CHECK(nested.error().message.find("'endpoint.port'") != std::string::npos);
  CHECK(api::parse_strict<api::agent::ResizeMemory>(json::parse(R"({"memory_mib": 512})")).has_value());
}

TEST_CASE("a client endpoint says whether its console is TLS, and an answer without the field means no") {
  api::client::Endpoint e{"10.77.0.1", 15900, true};
  json j = e;
  CHECK(j["tls"] == true);
  CHECK(j.get<api::client::Endpoint>() == e);
  auto old = json{{"host", "10.77.0.1"}, {"port", 15900}}.get<api::client::Endpoint>();
  CHECK_FALSE(old.tls);
  auto creds = api::parse_strict<api::client::Credential>(
      json{{"endpoint", {{"host", "10.77.0.1"}, {"port", 15900}, {"tls", true}}}, {"vnc_password", "x"}});
  REQUIRE(creds.has_value());
  CHECK(creds->endpoint.tls);
}
