// A synchronous HTTP/1.1 client with keep-alive, timeouts, bearer token and optional TLS.
// One Client per thread; a failed connection is reopened on the next call.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "labdesk/common/error.hpp"
#include "labdesk/http/message.hpp"

namespace labdesk::http {

struct ClientOptions {
  std::string bearer_token;
  std::chrono::milliseconds timeout{5000};
  bool verify_tls = true;
  std::string ca_file;  // extra CA (PEM) to trust, e.g. the agent's self-signed certificate
};

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string prefix;  // path prefix without trailing '/'
  static Result<Url> parse(const std::string& text);
};

class Client {
 public:
  // Throws labdesk::Failure if base_url is not an http(s) URL.
  explicit Client(const std::string& base_url, ClientOptions options = {});
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  // Any status is a Response; only transport failures (refused, timeout, TLS) are errors,
  // with code "unreachable" or "timeout" (status 503 / 504).
  Result<Response> request(const std::string& method, const std::string& target,
                           const std::string& body = "",
                           const std::string& content_type = "application/json");

  // JSON helpers: non-2xx answers become the server's Error (or a generic one).
  Result<nlohmann::json> get_json(const std::string& target);
  Result<nlohmann::json> post_json(const std::string& target, const nlohmann::json& body);
  Result<nlohmann::json> send_json(const std::string& method, const std::string& target,
                                   const nlohmann::json& body);

  void set_timeout(std::chrono::milliseconds t);
  [[nodiscard]] const Url& url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The Error an API answered with, or a generic one for a non-JSON error body.
Error error_from_response(const Response& r);

}  // namespace labdesk::http
