// The desktops' network on a host (`[network]`, docs/hosts.md): a NAT network libvirt runs for
// this host's desktops (default), a bridge onto the admin's VLAN, or none. Rendered by pure
// functions (golden files); the agent has libvirt start the NAT network when a desktop needs it.
#pragma once

#include <string>

namespace labdesk::agent {

struct NetworkSpec {
  std::string mode = "none";  // "nat" | "bridge" | "none"
  std::string name;           // nat: the libvirt network (the same name on every host)
  std::string bridge;         // nat: the bridge libvirt makes; bridge: the admin's existing one
  std::string subnet;         // nat: "a.b.c.d/prefix" of the desktops; the host is .1
  bool isolated = true;       // desktops cannot reach each other, only the host's side
  [[nodiscard]] bool any() const { return mode == "nat" || mode == "bridge"; }
  friend bool operator==(const NetworkSpec&, const NetworkSpec&) = default;
};

// libvirt's <network> for mode "nat": the host routes and masquerades the desktops' traffic,
// its dnsmasq gives them addresses. Empty unless mode is "nat".
std::string render_network_xml(const NetworkSpec& net);
// A desktop's <interface> (empty for mode "none"). libvirt picks the MAC; a migration keeps it.
std::string render_interface(const NetworkSpec& net);
// "" or why the subnet cannot hold desktops ("must be /16../28", "is not a network address").
std::string subnet_problem(const std::string& subnet);

}  // namespace labdesk::agent
