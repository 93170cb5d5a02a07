// POST /v1/announce: a booted thin client says who it is; we record it and answer where to log
// in. Parsing is strict and pure (unit-tested): unknown keys, wrong types, a MAC or IP that is
// not usable, an IP outside the lab or not the sender's → 4xx with labdesk's error shape.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "labdesk/common/error.hpp"
#include "store/store.hpp"

namespace labdesk::boot {

struct AnnounceRules {
  std::string lab_cidr;  // "10.77.0.1/24": announces must come from this subnet
};

// `remote` is the request's peer address; the announced ip must equal it.
Result<ClientRecord> parse_announce(const std::string& body, const std::string& remote, const AnnounceRules& rules);

// The answer: where the viewer logs in (the broker serves /v1/login later).
nlohmann::json announce_reply(const ClientRecord& c, const std::string& server_url, const std::string& boot_version);

}  // namespace labdesk::boot
