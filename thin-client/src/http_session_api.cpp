// The boot-server client API over HTTP/1.1 through labdesk_http (common/http).
#include <nlohmann/json.hpp>

#include "labdesk/http/client.hpp"
#include "labdesk/viewer/session_api.hpp"

namespace labdesk::viewer {
namespace {

struct Reply {
  unsigned status = 0;
  nlohmann::json body;
};

class HttpSessionApi final : public SessionApi {
 public:
  HttpSessionApi(std::string base, std::string ca_file) : base_(std::move(base)), ca_file_(std::move(ca_file)) {}

  LoginResult login(const api::LoginRequest& req) override {
    // A login starts desktops (its own, and replacements for users whose tier shrinks) and
    // answers once they are drawn: tens of seconds under load. Past the server's own deadline
    // for an answer (180 s), so the student reads the server's words rather than a time-out.
    auto r = call("POST", "/v1/login", "", nlohmann::json(req), std::chrono::seconds(190));
    if (!r) return std::unexpected(LoginError{r.error(), {}});
    if (r->status != 200) return std::unexpected(LoginError{error_of(*r), api::queue_position(r->body)});
    auto parsed = parse<api::LoginResponse>(*r);
    if (!parsed) return std::unexpected(LoginError{parsed.error(), {}});
    return *parsed;
  }

  Result<api::Credential> credential(const std::string& session, const std::string& token) override {
    auto r = call("POST", api::session_path(session, "credential"), token, nlohmann::json::object(),
                  std::chrono::seconds(3));
    if (!r) return std::unexpected(r.error());
    if (r->status != 200) return std::unexpected(error_of(*r));
    return parse<api::Credential>(*r);
  }

  Result<api::EventBatch> events(const std::string& session, const std::string& token,
                                 std::uint64_t after, std::chrono::seconds wait) override {
    auto target = api::session_path(session, "events") + "?after=" + std::to_string(after);
    auto r = call("GET", target, token, nullptr, wait + std::chrono::seconds(10));
    if (!r) return std::unexpected(r.error());
    if (r->status != 200) return std::unexpected(error_of(*r));
    return parse<api::EventBatch>(*r);
  }

  Result<void> logout(const std::string& session, const std::string& token) override {
    auto r = call("POST", api::session_path(session, "logout"), token, nlohmann::json::object(),
                  std::chrono::seconds(3));
    if (!r) return std::unexpected(r.error());
    if (r->status / 100 != 2) return std::unexpected(error_of(*r));
    return {};
  }

  Result<void> ack(const std::string& session, const std::string& token, long blackout_ms) override {
    auto r = call("POST", api::session_path(session, "ack"), token, nlohmann::json{{"blackout_ms", blackout_ms}},
                  std::chrono::seconds(3));
    if (!r) return std::unexpected(r.error());
    if (r->status / 100 != 2) return std::unexpected(error_of(*r));
    return {};
  }

 private:
  template <typename T>
  Result<T> parse(const Reply& r) {
    try {
      return r.body.get<T>();
    } catch (const std::exception& e) {
      return fail("bad_response", "the boot-server at '" + base_ + "' sent an unexpected answer: " + e.what(), 502);
    }
  }

  Error error_of(const Reply& r) {
    try {
      auto e = Error::from_json(r.body);
      e.status = static_cast<int>(r.status);
      return e;
    } catch (const std::exception&) {
      return Error{"http_" + std::to_string(r.status),
                   "the boot-server at '" + base_ + "' answered HTTP " + std::to_string(r.status),
                   static_cast<int>(r.status)};
    }
  }

  Result<Reply> call(const char* method, const std::string& target, const std::string& token,
                     const nlohmann::json& body, std::chrono::seconds timeout) {
    // One client per call: calls come from the UI thread and the event poller thread, and a
    // labdesk::http::Client belongs to one thread.
    http::Client client(base_, http::ClientOptions{token, timeout, true, ca_file_});
    auto r = client.request(method, target, body.is_null() ? std::string() : body.dump());
    if (!r) {
      return fail(std::string(kUnreachable),
                  "cannot reach the boot-server at '" + base_ + "': " + r.error().message, 0);
    }
    Reply out{static_cast<unsigned>(r->status), nullptr};
    if (!r->body.empty()) out.body = nlohmann::json::parse(r->body, nullptr, false);
    return out;
  }

  std::string base_;
  std::string ca_file_;  // the lab CA an https base is checked against
};

}  // namespace

std::unique_ptr<SessionApi> make_http_session_api(const std::string& base_url, const std::string& ca_file) {
  return std::make_unique<HttpSessionApi>(base_url, ca_file);
}

}  // namespace labdesk::viewer
