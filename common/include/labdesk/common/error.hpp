// One error shape for every labdesk API and tool.
//
// Expected failures travel as std::expected<T, Error>; start-up, config and programming errors are
// thrown as labdesk::Failure (which carries an Error) and caught in main or at a request boundary.
#pragma once

#include <expected>
#include <stdexcept>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace labdesk {

struct Error {
  // Stable, machine-readable code ("no_capacity", "bad_request", "not_found", ...).
  std::string code;
  // One searchable sentence with quoted values, naming the problem and, where known, the fix.
  std::string message;
  // HTTP status an API returns for this error; tools map it to an exit code.
  int status = 400;

  // The JSON shape every API answers with: {"error":{"code":…,"message":…}}.
  [[nodiscard]] nlohmann::json to_json() const;
  static Error from_json(const nlohmann::json& j);
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string code, std::string message, int status = 400) {
  return std::unexpected<Error>(Error{std::move(code), std::move(message), status});
}

// Thrown for start-up, configuration and programming errors.
class Failure : public std::runtime_error {
 public:
  explicit Failure(Error e) : std::runtime_error(e.message), error_(std::move(e)) {}
  [[nodiscard]] const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

}  // namespace labdesk
