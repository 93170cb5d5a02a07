// The boot-server's client API as the viewer sees it. An interface so the session logic is
// tested with a fake; HttpSessionApi is the real one.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>

#include "labdesk/common/api/client.hpp"
#include "labdesk/common/error.hpp"

namespace labdesk::viewer {

namespace api = labdesk::api::client;

// Error code the viewer uses when the boot-server could not be reached at all.
inline constexpr std::string_view kUnreachable = "unreachable";

// A failed login: the error plus, for no_capacity, where the student is in the queue.
struct LoginError {
  Error error;
  std::optional<std::uint32_t> queue_position;
};
using LoginResult = std::expected<api::LoginResponse, LoginError>;

class SessionApi {
 public:
  virtual ~SessionApi() = default;
  virtual LoginResult login(const api::LoginRequest& req) = 0;
  virtual Result<api::Credential> credential(const std::string& session, const std::string& token) = 0;
  // Long-poll: returns when events are there or after about `wait` with an empty batch.
  virtual Result<api::EventBatch> events(const std::string& session, const std::string& token,
                                         std::uint64_t after, std::chrono::seconds wait) = 0;
  virtual Result<void> logout(const std::string& session, const std::string& token) = 0;
  // After following a move: how long the picture was frozen (the broker's handoff metric).
  virtual Result<void> ack(const std::string& session, const std::string& token, long blackout_ms) = 0;
};

// Talks HTTP/1.1 + JSON to `base_url` (https://host:port, or http:// where TLS is off); an https
// server must present a certificate for its host that chains to `ca_file` (the lab CA) or to a
// CA of the system's.
std::unique_ptr<SessionApi> make_http_session_api(const std::string& base_url, const std::string& ca_file = {});

}  // namespace labdesk::viewer
