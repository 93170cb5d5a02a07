// Implementation of labdesk::api::parse_strict (header-only: it is a template).
#pragma once

#include <algorithm>
#include <vector>

#include "labdesk/common/config_tree.hpp"

namespace labdesk::api {
namespace detail {

// A whole-number field given a fractional or huge number (2.5, 1e300): nlohmann would cast the
// double to the integer, undefined behaviour past its range (found by the json_bodies fuzzer).
inline std::string not_whole(const nlohmann::json& shape, const nlohmann::json& body, const std::string& path) {
  for (const auto& [k, v] : body.items()) {
    auto it = shape.find(k);
    if (it == shape.end()) continue;
    if (it->is_number_integer() && v.is_number_float()) return path + k;
    if (it->is_object() && v.is_object()) {
      if (auto inner = not_whole(*it, v, path + k + "."); !inner.empty()) return inner;
    }
  }
  return {};
}

}  // namespace detail

template <typename T>
Result<T> parse_strict(const nlohmann::json& body) {
  if (!body.is_object()) return fail("bad_request", "request body must be a JSON object");
  const nlohmann::json shape = T{};
  std::vector<std::string_view> known;
  for (const auto& [k, v] : shape.items()) known.push_back(k);
  for (const auto& [k, v] : body.items()) {
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      std::string msg = "unknown key '" + k + "' in request";
      if (auto near = config::closest(k, known)) msg += ": did you mean '" + std::string(*near) + "'?";
      return fail("bad_request", msg);
    }
  }
  if (auto key = detail::not_whole(shape, body, ""); !key.empty()) {
    return fail("bad_request", "'" + key + "' must be a whole number within range");
  }
  try {
    return body.get<T>();
  } catch (const nlohmann::json::exception& e) {
    return fail("bad_request", std::string("request has a value of the wrong type: ") + e.what());
  } catch (const std::exception& e) {
    // A type's own check (an endpoint port outside 1..65535, say): found by the json_bodies fuzzer.
    return fail("bad_request", std::string("request has a value out of range: ") + e.what());
  }
}

}  // namespace labdesk::api
