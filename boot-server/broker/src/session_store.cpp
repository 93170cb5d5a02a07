#include <algorithm>

#include "labdesk/broker/session.hpp"

namespace labdesk::broker {

void MemorySessionStore::save(const Session& s) {
  auto it = std::find_if(sessions_.begin(), sessions_.end(), [&](const Session& x) { return x.id == s.id; });
  if (it == sessions_.end()) sessions_.push_back(s);
  else *it = s;
}

void MemorySessionStore::remove(const std::string& id) {
  std::erase_if(sessions_, [&](const Session& x) { return x.id == id; });
}

bool lease_allows(const DataLease& held, const DataLease& holder) {
  return held == holder || (held.host == holder.host && held.desktop.empty());
}

bool MemorySessionStore::claim_data(const DataLease& holder) {
  auto it = std::find_if(leases_.begin(), leases_.end(), [&](const DataLease& l) { return l.disk == holder.disk; });
  if (it == leases_.end()) {
    leases_.push_back(holder);
    return true;
  }
  if (!lease_allows(*it, holder)) return false;
  *it = holder;
  return true;
}

void MemorySessionStore::release_data(const DataLease& holder) {
  std::erase(leases_, holder);
}

std::optional<DataLease> MemorySessionStore::data_lease(const std::string& disk) {
  for (const auto& l : leases_) {
    if (l.disk == disk) return l;
  }
  return std::nullopt;
}

std::vector<DataLease> MemorySessionStore::data_leases() { return leases_; }

void MemorySessionStore::set_drained(const std::string& host, bool drained) {
  if (drained) drained_.insert(host);
  else drained_.erase(host);
}

}  // namespace labdesk::broker
