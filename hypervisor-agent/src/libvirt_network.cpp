// The desktops' NAT network, run by libvirt (its bridge, dnsmasq and firewall rules).
#include "labdesk/agent/libvirt.hpp"
#include "libvirt_impl.hpp"

namespace labdesk::agent {
namespace {

using libvirt_detail::last_error;

struct NetworkRef {
  virNetworkPtr n;
  explicit NetworkRef(virNetworkPtr p) : n(p) {}
  ~NetworkRef() { if (n) virNetworkFree(n); }
  NetworkRef(const NetworkRef&) = delete;
  NetworkRef& operator=(const NetworkRef&) = delete;
};

}  // namespace

Result<bool> Libvirt::ensure_network(const std::string& name, const std::string& xml) {
  return impl_->with([&](virConnectPtr c) -> Result<bool> {
    NetworkRef net(virNetworkLookupByName(c, name.c_str()));
    bool made = false;
    if (!net.n) {
      net.n = virNetworkDefineXML(c, xml.c_str());
      if (!net.n) return fail("network", "cannot define the desktops' network '" + name + "': '" + last_error() + "'", 503);
      if (virNetworkSetAutostart(net.n, 1) < 0) {
        return fail("network", "cannot autostart the desktops' network '" + name + "': '" + last_error() + "'", 503);
      }
      made = true;
    }
    int active = virNetworkIsActive(net.n);
    if (active < 0) return fail("network", "cannot ask about the desktops' network '" + name + "': '" + last_error() + "'", 503);
    if (active == 0) {
      if (virNetworkCreate(net.n) < 0) {
        return fail("network", "cannot start the desktops' network '" + name + "': '" + last_error() +
                                   "' (libvirt's NAT networks need dnsmasq and iptables; see docs/hosts.md)", 503);
      }
      made = true;
    }
    return made;
  });
}

}  // namespace labdesk::agent
