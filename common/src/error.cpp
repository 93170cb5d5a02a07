#include "labdesk/common/error.hpp"

#include <nlohmann/json.hpp>

namespace labdesk {

nlohmann::json Error::to_json() const {
  return {{"error", {{"code", code}, {"message", message}}}};
}

Error Error::from_json(const nlohmann::json& j) {
  const auto& e = j.at("error");
  return Error{e.at("code").get<std::string>(), e.at("message").get<std::string>(), 400};
}

}  // namespace labdesk
