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

}  // namespace labdesk::broker
