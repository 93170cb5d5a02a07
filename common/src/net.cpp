#include "labdesk/common/net.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace labdesk::net {

std::optional<std::uint32_t> parse_ipv4(const std::string& text) {
  in_addr a{};
  if (text.empty() || inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::optional<std::pair<std::uint32_t, int>> parse_cidr(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto ip = parse_ipv4(text.substr(0, slash));
  std::string p = text.substr(slash + 1);
  if (!ip || p.empty() || p.size() > 2 || !std::all_of(p.begin(), p.end(), ::isdigit)) return std::nullopt;
  int prefix = std::stoi(p);
  if (prefix < 1 || prefix > 32) return std::nullopt;
  return std::pair{*ip, prefix};
}

std::string format_ipv4(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) + "." +
         std::to_string(a & 255);
}

bool valid_mac(const std::string& s) {
  if (s.size() != 17) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i % 3 == 2 ? s[i] != ':' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

}  // namespace labdesk::net
