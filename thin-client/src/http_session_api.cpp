// The boot-server client API over HTTP/1.1 (Boost.Beast, synchronous, one connection per call).
// A minimal client of its own: labdesk_http (common/http) was not on main yet when this was
// written; swap to it once it lands.
// Optimised builds inline Asio's scheduler, and GCC then flags a null check inside Boost itself.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "labdesk/viewer/session_api.hpp"

namespace labdesk::viewer {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

struct Url {
  std::string host, port;
};

Url parse_url(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) return {rest, "80"};
  return {rest.substr(0, colon), rest.substr(colon + 1)};
}

struct Reply {
  unsigned status = 0;
  nlohmann::json body;
};

class HttpSessionApi final : public SessionApi {
 public:
  explicit HttpSessionApi(std::string base) : base_(std::move(base)), url_(parse_url(base_)) {}

  LoginResult login(const api::LoginRequest& req) override {
    auto r = call(http::verb::post, "/v1/login", "", nlohmann::json(req), std::chrono::seconds(10));
    if (!r) return std::unexpected(LoginError{r.error(), {}});
    if (r->status != 200) return std::unexpected(LoginError{error_of(*r), api::queue_position(r->body)});
    auto parsed = parse<api::LoginResponse>(*r);
    if (!parsed) return std::unexpected(LoginError{parsed.error(), {}});
    return *parsed;
  }

  Result<api::Credential> credential(const std::string& session, const std::string& token) override {
    auto r = call(http::verb::post, api::session_path(session, "credential"), token, nlohmann::json::object(),
                  std::chrono::seconds(3));
    if (!r) return std::unexpected(r.error());
    if (r->status != 200) return std::unexpected(error_of(*r));
    return parse<api::Credential>(*r);
  }

  Result<api::EventBatch> events(const std::string& session, const std::string& token,
                                 std::uint64_t after, std::chrono::seconds wait) override {
    auto target = api::session_path(session, "events") + "?after=" + std::to_string(after);
    auto r = call(http::verb::get, target, token, nullptr, wait + std::chrono::seconds(10));
    if (!r) return std::unexpected(r.error());
    if (r->status != 200) return std::unexpected(error_of(*r));
    return parse<api::EventBatch>(*r);
  }

  Result<void> logout(const std::string& session, const std::string& token) override {
    auto r = call(http::verb::post, api::session_path(session, "logout"), token, nlohmann::json::object(),
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

  Result<Reply> call(http::verb verb, const std::string& target, const std::string& token,
                     const nlohmann::json& body, std::chrono::seconds timeout) {
    try {
      boost::asio::io_context io;
      tcp::resolver resolver(io);
      beast::tcp_stream stream(io);
      stream.expires_after(timeout);
      stream.connect(resolver.resolve(url_.host, url_.port));
      http::request<http::string_body> req{verb, target, 11};
      req.set(http::field::host, url_.host);
      req.set(http::field::user_agent, "labdesk-viewer");
      req.set(http::field::accept, "application/json");
      if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
      if (!body.is_null()) {
        req.set(http::field::content_type, "application/json");
        req.body() = body.dump();
        req.prepare_payload();
      }
      http::write(stream, req);
      beast::flat_buffer buf;
      http::response<http::string_body> res;
      http::read(stream, buf, res);
      beast::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      Reply out{res.result_int(), nullptr};
      if (!res.body().empty()) out.body = nlohmann::json::parse(res.body(), nullptr, false);
      return out;
    } catch (const std::exception& e) {
      return fail(std::string(kUnreachable),
                  "cannot reach the boot-server at '" + base_ + "': " + e.what(), 0);
    }
  }

  std::string base_;
  Url url_;
};

}  // namespace

std::unique_ptr<SessionApi> make_http_session_api(const std::string& base_url) {
  return std::make_unique<HttpSessionApi>(base_url);
}

}  // namespace labdesk::viewer
