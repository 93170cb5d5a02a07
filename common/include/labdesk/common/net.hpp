// Small address checks the daemons share: host-order IPv4, "a.b.c.d/prefix", MAC addresses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace labdesk::net {

// Host byte order; nullopt unless `text` is a dotted IPv4 address.
std::optional<std::uint32_t> parse_ipv4(const std::string& text);
// "10.77.0.1/24" → {address, 24}; prefix 1..32.
std::optional<std::pair<std::uint32_t, int>> parse_cidr(const std::string& text);
// Host byte order → "a.b.c.d".
std::string format_ipv4(std::uint32_t address);
// "aa:bb:cc:dd:ee:ff", hex digits in either case.
bool valid_mac(const std::string& text);

}  // namespace labdesk::net
