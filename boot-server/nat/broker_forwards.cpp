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
  // One unusable forward (a desktop without a VNC port, a client outside a changed lab subnet)
  // must not keep the others stale: stale forwards may lead to ports another desktop reuses.
  std::vector<Forward> usable;
  std::string left_out;
  std::size_t bad = 0;
  for (const auto& f : all) {
    auto c = convert(f);
    auto ok = c ? table_.check(*c) : Result<void>(std::unexpected(c.error()));
    if (!ok) {
      if (bad++ == 0) left_out = ok.error().message;
      continue;
    }
    usable.push_back(*c);
  }
  if (auto r = table_.replace_all(usable); !r) return r;
  if (bad > 0) {
    return fail("bad_forward", std::to_string(bad) + " forward(s) left out of the rebuild, the first: " + left_out);
  }
  return {};
}

}  // namespace labdesk::boot
