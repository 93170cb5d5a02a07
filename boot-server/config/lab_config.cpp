#include "config/lab_config.hpp"

#include <array>
#include <cctype>
#include <cstdio>
#include <optional>
#include <set>

#include "labdesk/common/net.hpp"

namespace labdesk::config {
namespace {

using net::parse_cidr;
using net::parse_ipv4;
using net::valid_mac;

using I = std::int64_t;
using S = std::string;
using SV = std::vector<std::string>;

const std::array kLabKeys{
    key<&NetworkConfig::interface>("interface", S(),
            "the lab network interface the boot-server serves, e.g. \"br0\" (required by labdesk-boot-server)"),
    key<&NetworkConfig::address>("address", S(),
            "the boot-server's lab address with prefix, e.g. \"10.77.0.1/24\"; it must be on the interface"),
    key<&NetworkConfig::dhcp>("dhcp", S("full"),
            "\"full\": dnsmasq leases addresses from range_start..range_end; \"proxy\": the lab "
            "already has a DHCP server and dnsmasq only adds the PXE boot answers"),
    key<&NetworkConfig::range_start>("range_start", S(), "first address leased to lab PCs (full DHCP)"),
    key<&NetworkConfig::range_end>("range_end", S(), "last address leased to lab PCs (full DHCP)"),
    key<&NetworkConfig::lease_seconds>("lease_seconds", I{3600}, "DHCP lease time in seconds (at least 120)"),
    key<&NetworkConfig::dns>("dns", SV{}, "DNS servers handed to lab PCs (full DHCP)"),
    key<&NetworkConfig::ipv6_ra>("ipv6_ra", true,
            "send IPv6 router advertisements (no DHCPv6) so iPXE does not wait ~15 s for IPv6 "
            "autoconfiguration; needs an IPv6 address on the interface"),
};

const std::array kReservationKeys{
    key<&ReservationConfig::mac>("mac", std::nullopt, "the lab PC's MAC address, \"52:54:00:77:00:10\""),
    key<&ReservationConfig::ip>("ip", std::nullopt, "the address it always gets (inside the lab subnet)"),
    key<&ReservationConfig::name>("name", S(), "optional host name for the PC"),
};

const std::array kBootKeys{
    key<&BootConfig::http_port>("http_port", I{8080},
            "TCP port of the boot-server's HTTP server on the lab address (boot files, announce)"),
    key<&BootConfig::files_port>("files_port", I{8081},
            "TCP port on the lab address serving kernel and initramfs with sendfile (iPXE fetches them here)"),
    key<&BootConfig::assets_dir>("assets_dir", S(),
            "the pxe-assets output folder: vmlinuz, thin-client/initrd.cpio.gz, ipxe/ (required by "
            "labdesk-boot-server); each change becomes a new boot version"),
    key<&BootConfig::state_dir>("state_dir", S("/var/lib/labdesk"),
            "where the boot-server keeps boot versions, dnsmasq's files and the store"),
    key<&BootConfig::cmdline>("cmdline", S(), "extra kernel arguments for the thin client"),
    key<&BootConfig::keep_versions>("keep_versions", I{3},
            "boot versions kept besides the current one, for PCs still booting an older one"),
    key<&BootConfig::max_connections>("max_connections", I{16384},
            "open connections the lab-facing HTTP server accepts at once, from all lab PCs"),
    key<&BootConfig::max_connections_per_pc>("max_connections_per_pc", I{64},
            "open connections one lab address may hold at once; past it a connection is closed"),
    key<&BootConfig::bios_loader>("bios_loader", S("undionly.kpxe"),
            "first stage for BIOS PCs (client arch 0), from assets_dir/ipxe"),
    key<&BootConfig::uefi_loader>("uefi_loader", S("snponly.efi"),
            "first stage for x86-64 UEFI PCs (client arch 7 and 9), from assets_dir/ipxe"),
    key<&BootConfig::uefi32_loader>("uefi32_loader", S(),
            "first stage for 32-bit UEFI PCs (client arch 6); empty: none offered"),
    key<&BootConfig::dnsmasq>("dnsmasq", S("dnsmasq"), "the dnsmasq binary"),
};

const std::array kStoreKeys{
    key<&StoreConfig::path>("path", S(), "SQLite database file; empty: STATE_DIR/labdesk.sqlite"),
};

const std::array kNatKeys{
    key<&NatConfig::enabled>("enabled", true,
            "masquerade lab PCs' outbound traffic and forward desktop ports (nftables)"),
    key<&NatConfig::table>("table", S("labdesk"),
            "name of labdesk's own nftables table (family ip); other tables are left alone"),
    key<&NatConfig::outbound_interface>("outbound_interface", S(),
            "masquerade only out of this interface; empty: any interface but the lab's"),
    key<&NatConfig::port_min>("port_min", I{15900}, "first port of the lab address used for desktop forwards"),
    key<&NatConfig::port_max>("port_max", I{16899}, "last port used for desktop forwards"),
};

const std::array kApiKeys{
    key<&ApiConfig::address>("address", S("127.0.0.1"),
            "address of the boot-server's admin API (forwards, clients); keep it off the lab network"),
    key<&ApiConfig::port>("port", I{7080}, "TCP port of the admin API"),
    key<&ApiConfig::token_file>("token_file", S(),
            "file holding the admin API's bearer token; empty: no token (loopback only)"),
};

const std::array kTlsKeys{
    key<&TlsConfig::enabled>("enabled", true,
            "serve the lab API (logins, console credentials) over HTTPS only; false sends students' "
            "passwords in clear (a lab without students, a test bench)"),
    key<&TlsConfig::port>("port", I{8443}, "TCP port of the lab API over HTTPS on the lab address"),
    key<&TlsConfig::cert>("cert", S(),
            "PEM certificate chain for the lab address; empty: labdesk's own lab CA in STATE_DIR/tls, "
            "made at first start, issues it"),
    key<&TlsConfig::key>("key", S(), "PEM private key for cert"),
    key<&TlsConfig::ca>("ca", S(),
            "PEM CA certificate that lab PCs trust (handed to them at boot, as lab-ca.cpio.gz); needed with cert"),
};

const std::array kDesktopKeys{
    key<&DesktopsConfig::image>("image", S("desktop"),
            "catalog name of the image a login's desktop starts from (an [[images]] entry of the agents)"),
    key<&DesktopsConfig::console_tls>("console_tls", true,
            "desktops' consoles speak VeNCrypt x509 (libvirt's vnc_tls = 1 on every host, certificates "
            "from labdesk-boot-server --issue-console-certificate): viewers refuse a console without TLS; "
            "false sends console passwords, pixels and keys in clear"),
    key<&DesktopsConfig::data>("data", S("per_host"),
            "where users' data disks live: \"per_host\": each host's own storage.data_dir (data stays on "
            "the host where it was made); \"shared\": one data area that every host mounts at its "
            "storage.data_dir (a file server's export, docs/data.md), so data follows the user; a disk "
            "is in one VM at a time, so a handoff's replacement starts without it and gets it once the old desktop has stopped"),
    key<&DesktopsConfig::vnc_ready_seconds>("vnc_ready_seconds", I{120},
            "how long a new desktop may take until its VNC server answers and its guest has drawn the desktop (the agent's images[].ready_line); 0: do not wait (agents on libvirt's test:///default driver, whose desktops have no VNC server)"),
};

const std::array kRebalanceKeys{
    key<&RebalanceConfig::enabled>("enabled", true,
            "the lab evens itself out: users grow back toward their tier once others leave, and desktops "
            "move live from a crowded host to a quiet one (docs/migration.md)"),
    key<&RebalanceConfig::interval_seconds>("interval_seconds", I{30},
            "how often the boot-server looks; each look does at most one thing (one grow plan or one migration)"),
    key<&RebalanceConfig::grow_idle_seconds>("grow_idle_seconds", I{60},
            "[tiers] mode = \"handoff\": a user grows back (a new desktop) only once their viewer has not been "
            "heard from for this long (the lab PC is off or its cable out), so nobody's screen is replaced "
            "mid-work; balloon mode grows users live at once"),
    key<&RebalanceConfig::memory_spread>("memory_spread", 0.25,
            "move a desktop when the fullest and emptiest hosts' memory use (share of their capacity) differ by more"),
    key<&RebalanceConfig::cpu_spread>("cpu_spread", 0.5,
            "with memory even, move a busy desktop when the hosts' CPU utilization differs by more"),
    key<&RebalanceConfig::cooldown_seconds>("cooldown_seconds", I{600},
            "a desktop moved for balance is not moved for balance again within this time"),
    key<&RebalanceConfig::quiet_hours>("quiet_hours", S(),
            "\"HH:MM-HH:MM\" (local time, may wrap past midnight) when no desktop is migrated for balance, "
            "e.g. the hours classes run; growing back still happens; \"\": none"),
};

const std::array kOwnSections{
    SectionSpec{"lab", false, false, kLabKeys, "",
                "The lab network labdesk-boot-server serves: PXE boot, DHCP and the NAT gateway.", section<&LabConfig::lab>},
    SectionSpec{"reservations", true, false, kReservationKeys, "",
                "Fixed addresses per lab PC (full and proxy DHCP: in proxy mode they only name PCs).", section<&LabConfig::reservations>},
    SectionSpec{"boot", false, false, kBootKeys, "",
                "What lab PCs boot: iPXE first stages over TFTP, then kernel and thin-client "
                "initramfs over HTTP from versioned folders.", section<&LabConfig::boot>},
    SectionSpec{"store", false, false, kStoreKeys, "", "The boot-server's SQLite store (WAL).", section<&LabConfig::store>},
    SectionSpec{"nat", false, false, kNatKeys, "",
                "NAT for lab PCs and per-session forwards from the lab address to desktops' VNC ports.", section<&LabConfig::nat>},
    SectionSpec{"api", false, false, kApiKeys, "", "The boot-server's admin API.", section<&LabConfig::api>},
    SectionSpec{"tls", false, false, kTlsKeys, "",
                "TLS on the lab network: the lab API that lab PCs log in through.", section<&LabConfig::tls>},
    SectionSpec{"desktops", false, false, kDesktopKeys, "", "What a login starts on a virtualization host.", section<&LabConfig::desktops>},
    SectionSpec{"rebalance", false, false, kRebalanceKeys, "",
                "The lab evening itself out: grow-backs and live migrations between hosts.", section<&LabConfig::rebalance>},
};

// The planner's sections (declared once in common/), located in LabConfig's PlannerConfig base.
template <std::size_t I>
SectionSpec planner_part() {
  SectionSpec s = planner_schema()[I];
  s.locate = planner_section<LabConfig, I>;
  return s;
}

// The checked tree as the typed config: every key lands where its declaration binds it.
LabConfig build(const Tree& t) {
  LabConfig c;
  bind(t, lab_schema(), &c);
  return c;
}

// Checks what the boot-server's own values mean; positions come from the tree when there is one.
class Validator {
 public:
  Validator(const LabConfig& c, const Tree* t, Problems& p) : c_(c), tree_(t), problems_(p) {}

  void run() {
    check_planner(c_, tree_, problems_);
    network();
    boot();
    nat();
    tls();
    desktops();
    rebalance();
  }

 private:
  void problem(const std::string& key, std::string msg) {
    problems_.add(key, tree_ ? tree_->position(key) : Position{}, std::move(msg));
  }

  static std::string lower(std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  }

  void network() {
    const auto& l = c_.lab;
    std::uint32_t net = 0, mask = 0;
    bool have_net = false;
    if (!l.address.empty()) {
      auto a = parse_cidr(l.address);
      if (!a) {
        problem("lab.address", "lab.address '" + l.address + "' is not an IPv4 address with prefix: write it like \"10.77.0.1/24\"");
      } else {
        mask = a->second == 0 ? 0 : ~std::uint32_t{0} << (32 - a->second);
        net = a->first & mask;
        have_net = true;
      }
    }
    if (l.dhcp != "full" && l.dhcp != "proxy") {
      problem("lab.dhcp", "unknown lab.dhcp '" + l.dhcp + "': use \"full\" or \"proxy\"");
    }
    auto in_subnet = [&](const std::string& key, const std::string& v) -> std::optional<std::uint32_t> {
      auto ip = parse_ipv4(v);
      if (!ip) {
        problem(key, key + " '" + v + "' is not an IPv4 address: write it like \"10.77.0.100\"");
      } else if (have_net && (*ip & mask) != net) {
        problem(key, key + " '" + v + "' is outside the lab subnet of lab.address '" + l.address + "'");
      }
      return ip;
    };
    if (l.dhcp == "full" && !l.interface.empty()) {
      if (l.range_start.empty() || l.range_end.empty()) {
        problem("lab", "full DHCP needs lab.range_start and lab.range_end: give the first and last address to lease, or set dhcp = \"proxy\"");
      } else {
        auto a = in_subnet("lab.range_start", l.range_start);
        auto b = in_subnet("lab.range_end", l.range_end);
        if (a && b && *a > *b) problem("lab.range_end", "lab.range_end '" + l.range_end + "' comes before lab.range_start '" + l.range_start + "': swap them");
      }
    }
    if (l.lease_seconds < 120) {
      problem("lab.lease_seconds", "lab.lease_seconds " + std::to_string(l.lease_seconds) + " is below dnsmasq's minimum of 120");
    }
    for (std::size_t i = 0; i < l.dns.size(); ++i) {
      if (!parse_ipv4(l.dns[i])) problem("lab.dns[" + std::to_string(i) + "]", "DNS server '" + l.dns[i] + "' is not an IPv4 address");
    }
    std::set<std::string> macs, ips;
    for (std::size_t i = 0; i < c_.reservations.size(); ++i) {
      const auto& r = c_.reservations[i];
      std::string p = "reservations[" + std::to_string(i) + "]";
      if (!valid_mac(r.mac)) {
        problem(p + ".mac", "MAC '" + r.mac + "' is not usable: write six hex pairs with colons, e.g. \"52:54:00:77:00:10\"");
      } else if (!macs.insert(lower(r.mac)).second) {
        problem(p + ".mac", "MAC '" + r.mac + "' is reserved twice: keep one reservation per PC");
      }
      if (in_subnet(p + ".ip", r.ip) && !ips.insert(r.ip).second) {
        problem(p + ".ip", "address '" + r.ip + "' is reserved for two PCs: give each its own");
      }
      if (!r.name.empty() && !valid_name(r.name)) {
        problem(p + ".name", "reservation name '" + r.name + "' is not usable: use 1-64 letters, digits, '.', '_' or '-'");
      }
    }
  }

  void boot() {
    const auto& b = c_.boot;
    if (c_.api.port < 1 || c_.api.port > 65535) problem("api.port", "api.port " + std::to_string(c_.api.port) + " must be 1..65535");
    if (!parse_ipv4(c_.api.address)) problem("api.address", "api.address '" + c_.api.address + "' is not an IPv4 address");
    if (c_.api.token_file.empty() && c_.api.address != "127.0.0.1") {
      problem("api.token_file", "the admin API listens on '" + c_.api.address + "' without a token: set api.token_file or keep api.address = \"127.0.0.1\"");
    }
    if (b.http_port < 1 || b.http_port > 65535) problem("boot.http_port", "boot.http_port " + std::to_string(b.http_port) + " must be 1..65535");
    if (b.max_connections < 16) problem("boot.max_connections", "boot.max_connections " + std::to_string(b.max_connections) + " must be at least 16");
    if (b.max_connections_per_pc < 4 || b.max_connections_per_pc > b.max_connections) {
      problem("boot.max_connections_per_pc", "boot.max_connections_per_pc " + std::to_string(b.max_connections_per_pc) +
                                                 " must be 4..boot.max_connections (a viewer holds a few at once)");
    }
    if (b.files_port < 1 || b.files_port > 65535 || b.files_port == b.http_port) {
      problem("boot.files_port", "boot.files_port " + std::to_string(b.files_port) + " must be 1..65535 and differ from boot.http_port");
    } else if (b.files_port >= c_.nat.port_min && b.files_port <= c_.nat.port_max) {
      problem("boot.files_port", "boot.files_port " + std::to_string(b.files_port) + " lies in the forward ports: move it");
    }
    if (b.keep_versions < 0) problem("boot.keep_versions", "boot.keep_versions " + std::to_string(b.keep_versions) + " must be 0 or more");
    if (b.state_dir.empty()) problem("boot.state_dir", "boot.state_dir is empty: give a folder the boot-server may write, e.g. \"/var/lib/labdesk\"");
    for (auto [key, v] : {std::pair{"boot.bios_loader", &b.bios_loader}, {"boot.uefi_loader", &b.uefi_loader}, {"boot.uefi32_loader", &b.uefi32_loader}}) {
      if (v->find('/') != std::string::npos || v->find("..") != std::string::npos || v->find_first_of(" ,\n\"") != std::string::npos) {
        problem(key, std::string(key) + " '" + *v + "' must be a plain file name inside assets_dir/ipxe");
      }
    }
    if (b.cmdline.find_first_of("\n\r") != std::string::npos) problem("boot.cmdline", "boot.cmdline must be one line");
  }

  void tls() {
    const auto& t = c_.tls;
    const auto& b = c_.boot;
    if (t.port < 1 || t.port > 65535 || t.port == b.http_port || t.port == b.files_port) {
      problem("tls.port", "tls.port " + std::to_string(t.port) + " must be 1..65535 and differ from boot.http_port and boot.files_port");
    } else if (t.port >= c_.nat.port_min && t.port <= c_.nat.port_max) {
      problem("tls.port", "tls.port " + std::to_string(t.port) + " lies in the forward ports: move it");
    }
    if (t.cert.empty() != t.key.empty()) {
      problem("tls.cert", "tls.cert and tls.key go together: give both (and tls.ca), or neither for labdesk's own lab CA");
    } else if (!t.cert.empty() && t.ca.empty()) {
      problem("tls.ca", "tls.cert is set but tls.ca is empty: give the CA certificate that lab PCs should trust");
    } else if (t.cert.empty() && !t.ca.empty()) {
      problem("tls.ca", "tls.ca is set without tls.cert and tls.key: give all three, or none for labdesk's own lab CA");
    }
  }

  void nat() {
    const auto& n = c_.nat;
    if (!valid_name(n.table)) problem("nat.table", "nat.table '" + n.table + "' is not usable: use letters, digits, '.', '_' or '-'");
    if (n.port_min < 1 || n.port_max > 65535 || n.port_min > n.port_max) {
      problem("nat.port_min", "forward ports " + std::to_string(n.port_min) + ".." + std::to_string(n.port_max) + " are not a range within 1..65535");
    } else if (c_.boot.http_port >= n.port_min && c_.boot.http_port <= n.port_max) {
      problem("nat.port_min", "forward ports " + std::to_string(n.port_min) + ".." + std::to_string(n.port_max) + " include boot.http_port " + std::to_string(c_.boot.http_port) + ": move one of them");
    }
  }

  void desktops() {
    if (c_.desktops.data != "per_host" && c_.desktops.data != "shared") {
      problem("desktops.data", "unknown desktops.data '" + c_.desktops.data + "': use \"per_host\" or \"shared\"");
    }
    if (c_.desktops.vnc_ready_seconds < 0) {
      problem("desktops.vnc_ready_seconds", "vnc_ready_seconds " + std::to_string(c_.desktops.vnc_ready_seconds) + " must be 0 or more");
    }
  }

  void rebalance() {
    const auto& r = c_.rebalance;
    if (r.interval_seconds < 5 || r.interval_seconds > 3600) {
      problem("rebalance.interval_seconds", "interval_seconds " + std::to_string(r.interval_seconds) + " must be 5..3600");
    }
    if (r.grow_idle_seconds < 30) {
      problem("rebalance.grow_idle_seconds", "grow_idle_seconds " + std::to_string(r.grow_idle_seconds) +
                                                 " must be at least 30: a connected viewer is heard from every 25 s");
    }
    for (const auto& [key, v] : {std::pair{"rebalance.memory_spread", r.memory_spread}, {"rebalance.cpu_spread", r.cpu_spread}}) {
      if (v <= 0 || v > 1) problem(key, std::string(key) + " " + std::to_string(v) + " must be above 0 and at most 1");
    }
    if (r.cooldown_seconds < 0) problem("rebalance.cooldown_seconds", "cooldown_seconds must be 0 or more");
    if (!r.quiet_hours.empty() && !parse_quiet_hours(r.quiet_hours)) {
      problem("rebalance.quiet_hours", "quiet_hours '" + r.quiet_hours + "' is not a time range: write it like \"08:00-17:30\"");
    }
  }

  const LabConfig& c_;
  const Tree* tree_;
  Problems& problems_;
};

}  // namespace

std::optional<std::pair<int, int>> parse_quiet_hours(const std::string& text) {
  int h1 = 0, m1 = 0, h2 = 0, m2 = 0;
  char tail = 0;
  if (text.size() != 11 || std::sscanf(text.c_str(), "%2d:%2d-%2d:%2d%c", &h1, &m1, &h2, &m2, &tail) != 4) return std::nullopt;
  if (h1 > 23 || h2 > 23 || m1 > 59 || m2 > 59 || h1 < 0 || h2 < 0 || m1 < 0 || m2 < 0) return std::nullopt;
  if (h1 * 60 + m1 == h2 * 60 + m2) return std::nullopt;
  return std::pair{h1 * 60 + m1, h2 * 60 + m2};
}

std::span<const SectionSpec> lab_schema() {
  static const std::vector<SectionSpec> schema = [] {
    std::vector<SectionSpec> s{planner_part<0>(), planner_part<1>(), planner_part<2>()};
    s.insert(s.end(), kOwnSections.begin(), kOwnSections.end());
    return s;
  }();
  return schema;
}

LabConfig parse_lab_config(std::string_view text, const std::string& source_name) {
  Problems problems;
  Tree tree = Tree::parse(text, lab_schema(), problems);
  LabConfig c = build(tree);
  Validator(c, &tree, problems).run();
  if (!problems.empty()) throw ConfigError(source_name, std::move(problems));
  return c;
}

LabConfig defaults() {
  Problems ignored;
  return build(Tree::parse("", lab_schema(), ignored));
}

Problems validate(const LabConfig& c) {
  Problems problems;
  Validator(c, nullptr, problems).run();
  return problems;
}

LabConfig load_lab_config(const std::string& path) {
  return parse_lab_config(read_config_file(path), path);
}

}  // namespace labdesk::config
