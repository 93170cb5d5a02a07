// Clusters for the allocator's tests.
#pragma once

#include <initializer_list>
#include <string>

#include "labdesk/allocator/model.hpp"

namespace labdesk::alloc::test {

// Hosts "h0", "h1", ... of these capacities, idle, nobody on them.
inline Cluster hosts_of(std::initializer_list<Mib> caps) {
  Cluster c;
  for (Mib cap : caps) c.hosts.push_back({"h" + std::to_string(c.hosts.size()), cap, 0, 0, 0});
  return c;
}

}  // namespace labdesk::alloc::test
