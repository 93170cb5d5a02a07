#include "labdesk/agent/network.hpp"

#include "labdesk/agent/domain_xml.hpp"
#include "labdesk/common/net.hpp"

namespace labdesk::agent {
namespace {

std::uint32_t mask_of(int prefix) { return ~std::uint32_t{0} << (32 - prefix); }

}  // namespace

std::string subnet_problem(const std::string& subnet) {
  auto c = net::parse_cidr(subnet);
  if (!c) return "subnet '" + subnet + "' is not an IPv4 network like \"192.168.150.0/24\"";
  if (c->second < 16 || c->second > 28) return "subnet '" + subnet + "' must be /16../28 (room for a lab's desktops)";
  if ((c->first & ~mask_of(c->second)) != 0) {
    return "subnet '" + subnet + "' is not a network address: use '" + net::format_ipv4(c->first & mask_of(c->second)) +
           "/" + std::to_string(c->second) + "'";
  }
  return "";
}

std::string render_network_xml(const NetworkSpec& n) {
  if (n.mode != "nat") return "";
  auto c = net::parse_cidr(n.subnet);
  if (!c) return "";
  const std::uint32_t base = c->first & mask_of(c->second);
  const std::uint32_t last = base | ~mask_of(c->second);
  auto e = [](const std::string& v) { return xml_escape(v); };
  return "<network>\n"
         "  <name>" + e(n.name) + "</name>\n"
         "  <forward mode='nat'/>\n"
         "  <bridge name='" + e(n.bridge) + "' stp='off' delay='0'/>\n"
         "  <ip address='" + net::format_ipv4(base + 1) + "' netmask='" + net::format_ipv4(mask_of(c->second)) + "'>\n"
         "    <dhcp>\n"
         "      <range start='" + net::format_ipv4(base + 2) + "' end='" + net::format_ipv4(last - 1) + "'/>\n"
         "    </dhcp>\n"
         "  </ip>\n"
         "</network>\n";
}

std::string render_interface(const NetworkSpec& n) {
  if (!n.any()) return "";
  std::string o = n.mode == "nat" ? "    <interface type='network'>\n      <source network='" + xml_escape(n.name) + "'/>\n"
                                  : "    <interface type='bridge'>\n      <source bridge='" + xml_escape(n.bridge) + "'/>\n";
  o += "      <model type='virtio'/>\n";
  // A bridge port that forwards only to non-isolated ports (the host's side, the uplink): two
  // desktops on one host cannot talk, whatever their addresses (kernel BR_ISOLATED).
  if (n.isolated) o += "      <port isolated='yes'/>\n";
  o += "    </interface>\n";
  return o;
}

}  // namespace labdesk::agent
