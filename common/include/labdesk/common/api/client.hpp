// The boot-server's client API, v1: what a lab PC's viewer says to the broker.
// One definition used by both ends (the boot-server serves it, labdesk-viewer calls it).
//
//   POST /v1/login                          LoginRequest            -> 200 LoginResponse
//   POST /v1/sessions/{id}/credential       (Bearer token)          -> 200 Credential
//   GET  /v1/sessions/{id}/events?after=SEQ (Bearer, long-poll)     -> 200 EventBatch
//   POST /v1/sessions/{id}/logout           (Bearer)                -> 204
//
// Errors use the one shape {"error":{"code","message"}} (labdesk::Error), with these codes:
//   bad_credentials 401 · no_capacity 503 (+ optional "queue_position" inside "error") ·
//   rate_limited 429 · session_gone 404 (session ended or unknown: log in again) ·
//   bad_token 401 (token expired or wrong: log in again).
// Header-only on purpose: the types are plain data and the JSON mapping is all there is.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace labdesk::api::client {

inline constexpr std::string_view kVersion = "v1";

namespace code {
inline constexpr std::string_view bad_credentials = "bad_credentials";
inline constexpr std::string_view no_capacity = "no_capacity";
inline constexpr std::string_view rate_limited = "rate_limited";
inline constexpr std::string_view session_gone = "session_gone";
inline constexpr std::string_view bad_token = "bad_token";
}  // namespace code

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  // The console speaks VeNCrypt x509 (TLS checked against the lab CA) and the viewer must not
  // send the password any other way. Absent in older answers: false.
  bool tls = false;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct LoginRequest {
  std::string user;
  std::string password;
  std::string client_id;  // the lab PC (MAC or configured name): the broker binds the forward to it
};

struct LoginResponse {
  std::string session;
  std::string token;  // Bearer token for the session's other calls
  Endpoint endpoint;  // where the viewer connects (the boot-server's forwarded port)
  std::string vnc_password;
  std::uint32_t tier_mib = 0;
};

// A fresh console password (they rotate on every VM start) and where to use it.
struct Credential {
  Endpoint endpoint;
  std::string vnc_password;
};

namespace event_type {
inline constexpr std::string_view moved = "moved";  // handoff or roaming: reconnect to endpoint
inline constexpr std::string_view ended = "ended";  // session over (logout, admin, timeout)
// The desktop is away for a while and the session goes on (its host failed, a new desktop is
// starting): `reason` is shown until the desktop is back.
inline constexpr std::string_view notice = "notice";
// A live migration of the desktop starts: keys typed from now on are held by the viewer and sent
// to the desktop once it runs on its new host (`moved`), or on the old one again (`stayed`), so
// that none reaches a desktop paused for its last copy round and is lost.
inline constexpr std::string_view moving = "moving";
inline constexpr std::string_view stayed = "stayed";
}  // namespace event_type

struct Event {
  std::uint64_t seq = 0;
  std::string type;
  std::optional<Endpoint> endpoint;         // moved
  std::optional<std::string> vnc_password;  // moved
  std::optional<std::string> reason;        // ended, notice (shown to the student)
};

struct EventBatch {
  std::vector<Event> events;
};

// The error body's optional extra for no_capacity.
inline std::optional<std::uint32_t> queue_position(const nlohmann::json& error_body) {
  if (!error_body.is_object() || !error_body.contains("error")) return std::nullopt;
  const auto& e = error_body["error"];
  if (!e.is_object() || !e.contains("queue_position") || !e["queue_position"].is_number_unsigned())
    return std::nullopt;
  return e["queue_position"].get<std::uint32_t>();
}

inline std::string session_path(std::string_view session, std::string_view what) {
  return "/v1/sessions/" + std::string(session) + "/" + std::string(what);
}

inline void to_json(nlohmann::json& j, const Endpoint& v) { j = {{"host", v.host}, {"port", v.port}, {"tls", v.tls}}; }
inline void from_json(const nlohmann::json& j, Endpoint& v) {
  j.at("host").get_to(v.host);
  v.tls = j.contains("tls") && j.at("tls").get<bool>();
  auto port = j.at("port").get<long long>();
  if (port < 1 || port > 65535)
    throw std::out_of_range("endpoint port '" + std::to_string(port) + "' is not in 1..65535");
  v.port = static_cast<std::uint16_t>(port);
}

inline void to_json(nlohmann::json& j, const LoginRequest& v) {
  j = {{"user", v.user}, {"password", v.password}, {"client_id", v.client_id}};
}
inline void from_json(const nlohmann::json& j, LoginRequest& v) {
  j.at("user").get_to(v.user);
  j.at("password").get_to(v.password);
  v.client_id = j.value("client_id", std::string{});
}

inline void to_json(nlohmann::json& j, const LoginResponse& v) {
  j = {{"session", v.session},           {"token", v.token},
       {"endpoint", v.endpoint},         {"vnc_password", v.vnc_password},
       {"tier_mib", v.tier_mib}};
}
inline void from_json(const nlohmann::json& j, LoginResponse& v) {
  j.at("session").get_to(v.session);
  j.at("token").get_to(v.token);
  j.at("endpoint").get_to(v.endpoint);
  j.at("vnc_password").get_to(v.vnc_password);
  v.tier_mib = j.value("tier_mib", std::uint32_t{0});
}

inline void to_json(nlohmann::json& j, const Credential& v) {
  j = {{"endpoint", v.endpoint}, {"vnc_password", v.vnc_password}};
}
inline void from_json(const nlohmann::json& j, Credential& v) {
  j.at("endpoint").get_to(v.endpoint);
  j.at("vnc_password").get_to(v.vnc_password);
}

inline void to_json(nlohmann::json& j, const Event& v) {
  j = {{"seq", v.seq}, {"type", v.type}};
  if (v.endpoint) j["endpoint"] = *v.endpoint;
  if (v.vnc_password) j["vnc_password"] = *v.vnc_password;
  if (v.reason) j["reason"] = *v.reason;
}
inline void from_json(const nlohmann::json& j, Event& v) {
  j.at("seq").get_to(v.seq);
  j.at("type").get_to(v.type);
  if (j.contains("endpoint")) v.endpoint = j["endpoint"].get<Endpoint>();
  if (j.contains("vnc_password")) v.vnc_password = j["vnc_password"].get<std::string>();
  if (j.contains("reason")) v.reason = j["reason"].get<std::string>();
}

inline void to_json(nlohmann::json& j, const EventBatch& v) { j = {{"events", v.events}}; }
inline void from_json(const nlohmann::json& j, EventBatch& v) { j.at("events").get_to(v.events); }

}  // namespace labdesk::api::client
