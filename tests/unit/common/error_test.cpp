#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "labdesk/common/error.hpp"
#include "labdesk/common/log.hpp"

TEST_CASE("errors have one JSON shape and round-trip") {
  labdesk::Error e{"no_capacity", "no host can take a '2048' MiB desktop", 409};
  auto j = e.to_json();
  CHECK(j.dump() == R"({"error":{"code":"no_capacity","message":"no host can take a '2048' MiB desktop"}})");
  auto back = labdesk::Error::from_json(j);
  CHECK(back.code == e.code);
  CHECK(back.message == e.message);
}

TEST_CASE("log levels parse, and a bad one names the choices") {
  CHECK(labdesk::log::parse_level("debug") == spdlog::level::debug);
  CHECK(labdesk::log::parse_level("error") == spdlog::level::err);
  CHECK(labdesk::log::parse_level("warn") == spdlog::level::warn);
  CHECK(labdesk::log::parse_level("warning") == spdlog::level::warn);
  CHECK_THROWS_WITH_AS(labdesk::log::parse_level("loud"),
                       "unknown log level 'loud': use one of trace, debug, info, warn, error, off",
                       labdesk::Failure);
}
