// Implementation of labdesk::api::parse_strict (header-only: it is a template).
#pragma once

#include <algorithm>
#include <vector>

#include "labdesk/common/config_tree.hpp"

namespace labdesk::api {

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
