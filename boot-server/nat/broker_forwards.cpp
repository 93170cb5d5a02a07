#include "nat/broker_forwards.hpp"

namespace labdesk::boot {

Result<Forward> BrokerForwards::convert(const broker::Forward& f) {
  if (f.lab_port < 1 || f.lab_port > 65535 || f.vnc_port < 1 || f.vnc_port > 65535) {
    return fail("bad_forward", "forward '" + std::to_string(f.lab_port) + "' -> '" + f.vnc_host + ":" +
                                   std::to_string(f.vnc_port) + "' has a port outside 1..65535");
  }
  return Forward{static_cast<std::uint16_t>(f.lab_port), "lab-port-" + std::to_string(f.lab_port), f.client_ip,
                 f.vnc_host, static_cast<std::uint16_t>(f.vnc_port)};
}

Result<void> BrokerForwards::upsert(const broker::Forward& f) {
  auto c = convert(f);
  if (!c) return std::unexpected(c.error());
  return table_.upsert(*c);
}

Result<void> BrokerForwards::remove(int lab_port) {
  if (lab_port < 1 || lab_port > 65535) return {};
  return table_.remove(static_cast<std::uint16_t>(lab_port));
}

Result<void> BrokerForwards::rebuild(const std::vector<broker::Forward>& all) {
  std::vector<Forward> converted;
  for (const auto& f : all) {
    auto c = convert(f);
    if (!c) return std::unexpected(c.error());
    converted.push_back(*c);
  }
  return table_.replace_all(converted);
}

}  // namespace labdesk::boot
