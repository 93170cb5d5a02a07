#include "json_io.hpp"

namespace labdesk::plan_cli {

nlohmann::ordered_json step_json(const alloc::Step& s) {
  nlohmann::ordered_json j{{"op", alloc::to_string(s.op)}, {"user", s.user}};
  j["host"] = s.host ? nlohmann::ordered_json(*s.host) : nlohmann::ordered_json(nullptr);
  j["mib"] = s.mib;
  if (!s.reason.empty()) j["reason"] = s.reason;
  return j;
}

nlohmann::ordered_json steps_json(const alloc::Plan& p) {
  auto arr = nlohmann::ordered_json::array();
  for (const auto& s : p.steps) arr.push_back(step_json(s));
  return arr;
}

nlohmann::ordered_json users_json(const alloc::Cluster& c) {
  auto arr = nlohmann::ordered_json::array();
  for (const auto& vm : c.users) arr.push_back({{"user", vm.user}, {"host", vm.host}, {"mib", vm.mib}});
  return arr;
}

nlohmann::ordered_json hosts_json(const alloc::Cluster& c) {
  std::vector<alloc::Mib> used(c.hosts.size(), 0);
  for (const auto& vm : c.users) used[vm.host] += vm.mib;
  auto arr = nlohmann::ordered_json::array();
  for (std::size_t h = 0; h < c.hosts.size(); ++h) {
    arr.push_back({{"id", h}, {"capacity_mib", c.hosts[h].capacity_mib}, {"used_mib", used[h]}});
  }
  return arr;
}

}  // namespace labdesk::plan_cli
