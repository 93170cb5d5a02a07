// Requests and responses as plain values: handlers never see Beast types.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "labdesk/common/error.hpp"

namespace labdesk::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query as sent
  std::string path;    // decoded path without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> params;  // captures of "{name}" route segments
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string remote_address;

  [[nodiscard]] std::string header(const std::string& lower_name) const;
  [[nodiscard]] std::string query_or(const std::string& key, std::string fallback) const;
  // The body as JSON, or a 400 "bad_json" error naming the parse problem.
  [[nodiscard]] Result<nlohmann::json> json() const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> file;  // send this file's contents instead of body

  static Response json(const nlohmann::json& j, int status = 200);
  static Response error(const Error& e);
  static Response error(std::string code, std::string message, int status);
  static Response text(std::string body, std::string content_type = "text/plain; charset=utf-8",
                       int status = 200);
};

// Splits "a=1&b=x%20y" into decoded pairs.
std::map<std::string, std::string> parse_query(std::string_view q);
std::string url_decode(std::string_view s);

}  // namespace labdesk::http
