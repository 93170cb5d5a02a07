// Shared by the fuzz targets: bytes → one HTTP request as the server parses it → a daemon's real
// router, and the checks every answer must pass. A check that fails aborts, so libFuzzer (or the
// corpus replay in the unit tests) reports it like a crash.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "labdesk/http/server.hpp"

namespace labdesk::fuzz {

inline std::string_view bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz check failed: %s\n", what.c_str());
  std::abort();
}

// Every answer: a status a client can act on (a 500 is a handler that threw: a bug), and a JSON
// body in the one error shape whenever it says it is JSON.
inline void check_answer(const http::Response& r) {
  if (r.status == 500) fail("500 for a client's input: " + r.body);
  if (r.status < 100 || r.status > 599) fail("status " + std::to_string(r.status));
  if (r.content_type != "application/json" || r.body.empty()) return;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) fail("answer is not JSON: " + r.body);
  if (r.status >= 400 && (!j.contains("error") || !j["error"]["code"].is_string() || !j["error"]["message"].is_string())) {
    fail("error answer without the error shape: " + r.body);
  }
}

// One request through `server`'s router, as if it came from `remote`.
inline void drive(http::Server& server, std::string_view raw, const std::string& remote,
                  std::chrono::milliseconds wait = std::chrono::seconds(3)) {
  auto req = http::parse_request(raw, 64 * 1024, remote);
  if (!req) return;
  check_answer(server.answer(*req, wait));
}

}  // namespace labdesk::fuzz
