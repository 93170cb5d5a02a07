#include "api/announce.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "config/lab_config.hpp"
#include "labdesk/common/net.hpp"

namespace labdesk::boot {
namespace {

using nlohmann::json;

Result<std::int64_t> whole(const json& j, const char* key, std::int64_t lo, std::int64_t hi) {
  const json& v = j.at(key);
  if (!v.is_number_integer()) return fail("bad_announce", std::string("announce field '") + key + "' must be a whole number");
  const auto n = v.get<std::int64_t>();
  if (n < lo || n > hi) {
    return fail("bad_announce", std::string("announce field '") + key + "' is " + std::to_string(n) + ", outside " +
                                    std::to_string(lo) + ".." + std::to_string(hi));
  }
  return n;
}

}  // namespace

Result<ClientRecord> parse_announce(const std::string& body, const std::string& remote, const AnnounceRules& rules) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail("bad_json", "announce body is not a JSON object: send {\"mac\",\"ip\",\"uptime_s\",\"cpu\",\"mem_mib\"}");
  }
  static const std::array<std::string, 5> known{"mac", "ip", "uptime_s", "cpu", "mem_mib"};
  for (const auto& [k, v] : j.items()) {
    if (std::find(known.begin(), known.end(), k) == known.end()) return fail("bad_announce", "unknown announce field '" + k + "'");
  }
  for (const auto& k : known) {
    if (!j.contains(k)) return fail("bad_announce", "announce field '" + k + "' is missing");
  }
  ClientRecord c;
  if (!j["mac"].is_string() || !net::valid_mac(j["mac"].get<std::string>())) {
    return fail("bad_announce", "announce mac '" + (j["mac"].is_string() ? j["mac"].get<std::string>() : j["mac"].dump()) +
                                    "' is not a MAC address like \"52:54:00:77:00:10\"");
  }
  c.mac = j["mac"].get<std::string>();
  std::transform(c.mac.begin(), c.mac.end(), c.mac.begin(), [](char ch) { return static_cast<char>(std::tolower(static_cast<unsigned char>(ch))); });
  if (c.mac == "00:00:00:00:00:00" || c.mac == "ff:ff:ff:ff:ff:ff") return fail("bad_announce", "announce mac '" + c.mac + "' is not a NIC's address");
  if (!j["ip"].is_string() || !net::parse_ipv4(j["ip"].get<std::string>())) {
    return fail("bad_announce", "announce ip '" + (j["ip"].is_string() ? j["ip"].get<std::string>() : j["ip"].dump()) + "' is not an IPv4 address");
  }
  c.ip = j["ip"].get<std::string>();
  auto net = net::parse_cidr(rules.lab_cidr);
  auto ip = net::parse_ipv4(c.ip);
  if (net && (*ip >> (32 - net->second)) != (net->first >> (32 - net->second))) {
    return fail("unknown_client", "announce ip '" + c.ip + "' is not in the lab subnet of '" + rules.lab_cidr + "'", 403);
  }
  if (remote != c.ip) {
    return fail("unknown_client", "announce ip '" + c.ip + "' is not the sender's address '" + remote + "'", 403);
  }
  if (!j["uptime_s"].is_number() || !std::isfinite(j["uptime_s"].get<double>()) || j["uptime_s"].get<double>() < 0) {
    return fail("bad_announce", "announce field 'uptime_s' must be a number of seconds, 0 or more");
  }
  c.uptime_s = j["uptime_s"].get<double>();
  auto cpu = whole(j, "cpu", 1, 4096);
  if (!cpu) return std::unexpected(cpu.error());
  auto mem = whole(j, "mem_mib", 1, std::int64_t{1} << 24);
  if (!mem) return std::unexpected(mem.error());
  c.cpu = *cpu;
  c.mem_mib = *mem;
  return c;
}

nlohmann::json announce_reply(const ClientRecord& c, const std::string& server_url, const std::string& boot_version) {
  return {{"mac", c.mac},
          {"ip", c.ip},
          {"known_since", c.first_seen},
          {"announces", c.announces},
          {"boot_version", boot_version},
          {"login", {{"server", server_url}, {"url", server_url + "/v1/login"}}}};
}

}  // namespace labdesk::boot
