#include "nat/netcheck.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>

#include <memory>

namespace labdesk::boot {

Result<void> check_lab_interface(const std::string& interface, const std::string& cidr, std::string& warning) {
  std::unique_ptr<nl_sock, decltype(&nl_socket_free)> sk(nl_socket_alloc(), nl_socket_free);
  if (!sk || nl_connect(sk.get(), NETLINK_ROUTE) < 0) {
    return fail("netlink", "cannot open a netlink socket to check lab.interface '" + interface + "'", 500);
  }
  rtnl_link* link = nullptr;
  if (rtnl_link_get_kernel(sk.get(), 0, interface.c_str(), &link) < 0 || !link) {
    return fail("no_interface", "lab interface '" + interface +
                                    "' does not exist: create it (e.g. a bridge for the lab NICs) or fix lab.interface", 500);
  }
  const int ifindex = rtnl_link_get_ifindex(link);
  if (!(rtnl_link_get_flags(link) & IFF_UP)) warning = "lab interface '" + interface + "' is down: PCs cannot boot until it is up";
  rtnl_link_put(link);

  nl_cache* cache = nullptr;
  if (rtnl_addr_alloc_cache(sk.get(), &cache) < 0) {
    return fail("netlink", "cannot list the addresses of lab interface '" + interface + "'", 500);
  }
  const std::string want = cidr;
  bool found = false;
  std::string have;
  for (nl_object* o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET) continue;
    nl_addr* local = rtnl_addr_get_local(a);
    char buf[INET_ADDRSTRLEN] = {};
    if (!local || !inet_ntop(AF_INET, nl_addr_get_binary_addr(local), buf, sizeof buf)) continue;
    std::string got = std::string(buf) + "/" + std::to_string(rtnl_addr_get_prefixlen(a));
    if (got == want) found = true;
    have += (have.empty() ? "'" : ", '") + got + "'";
  }
  nl_cache_free(cache);
  if (!found) {
    return fail("no_address", "lab interface '" + interface + "' does not carry lab.address '" + cidr + "' (it has " +
                                  (have.empty() ? std::string("no IPv4 address") : have) +
                                  "): add it with 'ip addr add " + cidr + " dev " + interface + "' or fix lab.address", 500);
  }
  return {};
}

}  // namespace labdesk::boot
