// Pure renderers of labdesk's nftables table as libnftables JSON batches.
//
// Table `ip <table>`: masquerade for the lab subnet's outbound traffic, and desktop forwards
// from lab_address:lab_port to vnc_host:vnc_port for one client IP only (the broker's Forward,
// which its sessions own). The forwards live in
// two maps keyed by (client ip . port), one for the target address and one for the target
// port (nft 1.0.6's JSON parser cannot build a map with concatenated data); both change in
// the same transaction, so a handoff or roam switches a forward atomically. A connection to a
// forward port from any other address finds no map entry, is not DNATed, and is dropped.
//
// A lab PC is untrusted: from the lab interface only the per-PC DNAT flows are routed (forward
// chain) and only the boot services are open on the boot-server (input chain).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/lab_config.hpp"
#include "labdesk/broker/ports.hpp"

namespace labdesk::boot {

using broker::Forward;

struct NatSpec {
  bool enabled = true;  // nat.enabled: false → labdesk keeps no table (and forwards nothing)
  std::string table;
  std::string lab_interface;
  std::string lab_address;  // without prefix
  std::string lab_subnet;   // "10.77.0.0/24"
  std::string outbound_interface;  // "" → any interface but the lab's
  std::uint16_t port_min = 0;
  std::uint16_t port_max = 0;
  bool masquerade = true;
  // What a lab PC may reach on the boot-server itself (input from the lab interface): DHCP, TFTP,
  // proxy-DHCP's PXE port, DNS, the boot/lab API and the boot files. Everything else is dropped,
  // and nothing is routed from the lab but the per-PC desktop forwards.
  std::vector<std::uint16_t> lab_tcp_ports;
  std::vector<std::uint16_t> lab_udp_ports;
  bool operator==(const NatSpec&) const = default;
};

NatSpec nat_spec(const config::LabConfig& c);

// The whole table, replacing any previous one in one transaction (add, delete, re-create).
nlohmann::json render_ruleset(const NatSpec& spec, const std::vector<Forward>& forwards);

// Deletes labdesk's table (and nothing else); harmless when it does not exist.
nlohmann::json render_teardown(const NatSpec& spec);

// The element changes turning `before` into `after` (either may be absent), one transaction.
nlohmann::json render_change(const NatSpec& spec, const std::vector<Forward>& before,
                             const std::vector<Forward>& after);

// Checks a forward against the spec: lab port in range, IPv4 addresses, client in the lab subnet,
// a VNC port in 1..65535.
Result<void> check_forward(const NatSpec& spec, const Forward& f);

}  // namespace labdesk::boot
