#include "nat/ruleset.hpp"

#include "labdesk/common/net.hpp"

namespace labdesk::boot {
namespace {

using nlohmann::json;

json payload(const char* proto, const char* field) {
  return {{"payload", {{"protocol", proto}, {"field", field}}}};
}
json match(json left, json right, const char* op = "==") {
  return {{"match", {{"op", op}, {"left", std::move(left)}, {"right", std::move(right)}}}};
}
json meta(const char* key) { return {{"meta", {{"key", key}}}}; }
json key_expr() { return {{"concat", json::array({payload("ip", "saddr"), payload("tcp", "dport")})}}; }
json key_of(const Forward& f) { return {{"concat", json::array({f.client_ip, f.lab_port})}}; }

json chain(const NatSpec& s, const char* name, const char* type, const char* hook, int prio) {
  return {{"add", {{"chain", {{"family", "ip"}, {"table", s.table}, {"name", name}, {"type", type},
                              {"hook", hook}, {"prio", prio}, {"policy", "accept"}}}}}};
}
json rule(const NatSpec& s, const char* chain_name, json expr) {
  return {{"add", {{"rule", {{"family", "ip"}, {"table", s.table}, {"chain", chain_name}, {"expr", std::move(expr)}}}}}};
}
json element(const NatSpec& s, const char* verb, const char* map, json elem) {
  return {{verb, {{"element", {{"family", "ip"}, {"table", s.table}, {"name", map}, {"elem", std::move(elem)}}}}}};
}
json port_range(const NatSpec& s) { return {{"range", json::array({s.port_min, s.port_max})}}; }

std::string subnet_of(const std::string& cidr) {
  auto a = net::parse_cidr(cidr);
  if (!a) return cidr;
  std::uint32_t m = a->first & (~std::uint32_t{0} << (32 - a->second));
  return net::format_ipv4(m) + "/" + std::to_string(a->second);
}

json subnet_json(const std::string& cidr) {
  auto slash = cidr.find('/');
  return {{"prefix", {{"addr", cidr.substr(0, slash)}, {"len", std::stoi(cidr.substr(slash + 1))}}}};
}

}  // namespace

NatSpec nat_spec(const config::LabConfig& c) {
  NatSpec s;
  s.enabled = c.nat.enabled;
  s.table = c.nat.table;
  s.lab_interface = c.lab.interface;
  s.lab_address = c.lab.address.substr(0, c.lab.address.find('/'));
  s.lab_subnet = subnet_of(c.lab.address);
  s.outbound_interface = c.nat.outbound_interface;
  s.port_min = static_cast<std::uint16_t>(c.nat.port_min);
  s.port_max = static_cast<std::uint16_t>(c.nat.port_max);
  s.masquerade = c.nat.enabled;
  s.lab_tcp_ports = {53, static_cast<std::uint16_t>(c.boot.http_port), static_cast<std::uint16_t>(c.boot.files_port)};
  if (c.tls.enabled) s.lab_tcp_ports.push_back(static_cast<std::uint16_t>(c.tls.port));
  s.lab_udp_ports = {53, 67, 69, 4011};
  return s;
}

json render_ruleset(const NatSpec& s, const std::vector<Forward>& forwards) {
  json cmds = json::array();
  const json table = {{"table", {{"family", "ip"}, {"name", s.table}}}};
  cmds.push_back({{"add", table}});  // so the delete below never fails
  cmds.push_back({{"delete", table}});
  cmds.push_back({{"add", table}});
  for (const auto& [name, type] : {std::pair{"fwd_addr", "ipv4_addr"}, {"fwd_port", "inet_service"}}) {
    json elems = json::array();
    for (const auto& f : forwards) {
      elems.push_back(json::array({key_of(f), name == std::string("fwd_addr") ? json(f.vnc_host) : json(f.vnc_port)}));
    }
    json map = {{"family", "ip"}, {"table", s.table}, {"name", name},
                {"type", json::array({"ipv4_addr", "inet_service"})}, {"map", type}};
    if (!elems.empty()) map["elem"] = elems;
    cmds.push_back({{"add", {{"map", map}}}});
  }
  cmds.push_back(chain(s, "prerouting", "nat", "prerouting", -100));
  cmds.push_back(chain(s, "postrouting", "nat", "postrouting", 100));
  cmds.push_back(chain(s, "input", "filter", "input", 0));
  cmds.push_back(chain(s, "forward", "filter", "forward", 0));
  const json dports = match(payload("tcp", "dport"), port_range(s));
  cmds.push_back(rule(s, "prerouting",
                      {match(meta("iifname"), s.lab_interface), match(payload("ip", "daddr"), s.lab_address), dports,
                       {{"dnat", {{"addr", {{"map", {{"key", key_expr()}, {"data", "@fwd_addr"}}}}},
                                  {"port", {{"map", {{"key", key_expr()}, {"data", "@fwd_port"}}}}}}}}}));
  // Not DNATed (no forward for this client and port): nobody's desktop, refuse it here.
  cmds.push_back(rule(s, "input",
                      {match(meta("iifname"), s.lab_interface), dports,
                       match({{"ct", {{"key", "status"}}}}, "dnat", "!="), {{"drop", nullptr}}}));
  // The boot-server itself: only the boot services, replies, ping and DNATed desktop flows.
  const json from_lab = match(meta("iifname"), s.lab_interface);
  cmds.push_back(rule(s, "input", {from_lab, match({{"ct", {{"key", "state"}}}}, json::array({"established", "related"}), "in"),
                                   {{"accept", nullptr}}}));
  cmds.push_back(rule(s, "input", {from_lab, match(payload("ip", "protocol"), "icmp"), {{"accept", nullptr}}}));
  // A desktop forward whose VNC target is this machine itself (a one-machine lab) arrives here.
  cmds.push_back(rule(s, "input", {from_lab, match({{"ct", {{"key", "status"}}}}, "dnat", "in"), {{"accept", nullptr}}}));
  cmds.push_back(rule(s, "input", {from_lab, match(payload("udp", "dport"), {{"set", s.lab_udp_ports}}), {{"accept", nullptr}}}));
  cmds.push_back(rule(s, "input", {from_lab, match(payload("tcp", "dport"), {{"set", s.lab_tcp_ports}}), {{"accept", nullptr}}}));
  cmds.push_back(rule(s, "input", {from_lab, {{"drop", nullptr}}}));
  // Routed from the lab: the per-PC desktop forwards (DNATed above) and nothing else; the hosts'
  // network, their agents, libvirtd and SSH stay out of a student's reach.
  cmds.push_back(rule(s, "forward", {from_lab, match({{"ct", {{"key", "status"}}}}, "dnat", "in"), {{"accept", nullptr}}}));
  cmds.push_back(rule(s, "forward", {from_lab, {{"drop", nullptr}}}));
  if (s.masquerade) {
    json out = s.outbound_interface.empty() ? match(meta("oifname"), s.lab_interface, "!=")
                                            : match(meta("oifname"), s.outbound_interface);
    cmds.push_back(rule(s, "postrouting",
                        {match(payload("ip", "saddr"), subnet_json(s.lab_subnet)), out, {{"masquerade", nullptr}}}));
  }
  return {{"nftables", cmds}};
}

json render_teardown(const NatSpec& s) {
  const json table = {{"table", {{"family", "ip"}, {"name", s.table}}}};
  return {{"nftables", json::array({{{"add", table}}, {{"delete", table}}})}};
}

json render_change(const NatSpec& s, const std::vector<Forward>& before, const std::vector<Forward>& after) {
  json cmds = json::array();
  for (const auto& f : before) {
    cmds.push_back(element(s, "delete", "fwd_addr", json::array({key_of(f)})));
    cmds.push_back(element(s, "delete", "fwd_port", json::array({key_of(f)})));
  }
  for (const auto& f : after) {
    cmds.push_back(element(s, "add", "fwd_addr", json::array({json::array({key_of(f), f.vnc_host})})));
    cmds.push_back(element(s, "add", "fwd_port", json::array({json::array({key_of(f), f.vnc_port})})));
  }
  return {{"nftables", cmds}};
}

Result<void> check_forward(const NatSpec& s, const Forward& f) {
  if (f.lab_port < s.port_min || f.lab_port > s.port_max) {
    return fail("bad_forward", "forward port '" + std::to_string(f.lab_port) + "' is outside nat.port_min..port_max " +
                                   std::to_string(s.port_min) + ".." + std::to_string(s.port_max));
  }
  auto client = net::parse_ipv4(f.client_ip);
  auto net = net::parse_cidr(s.lab_subnet);
  if (!client) return fail("bad_forward", "client ip '" + f.client_ip + "' is not an IPv4 address");
  if (net && (*client >> (32 - net->second)) != (net->first >> (32 - net->second))) {
    return fail("bad_forward", "client ip '" + f.client_ip + "' is not in the lab subnet '" + s.lab_subnet + "'");
  }
  if (!net::parse_ipv4(f.vnc_host)) return fail("bad_forward", "vnc host '" + f.vnc_host + "' is not an IPv4 address");
  if (f.vnc_port < 1 || f.vnc_port > 65535) {
    return fail("bad_forward", "vnc port '" + std::to_string(f.vnc_port) + "' of forward '" + std::to_string(f.lab_port) +
                                   "' is outside 1..65535");
  }
  return {};
}

}  // namespace labdesk::boot
