#include "labdesk/agent/config.hpp"

#include <array>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "labdesk/agent/names.hpp"
#include "labdesk/agent/storage.hpp"

namespace labdesk::agent {
namespace {

using config::key;
using config::section;
using config::whole;
using config::SectionSpec;
using I = std::int64_t;
using S = std::string;

const std::array kAgentKeys{
    key<&AgentConfig::host>("host", S("localhost"), "this host's name in health and load reports"),
    key<&AgentConfig::listen>("listen", S("127.0.0.1"), "address the API listens on"),
    key<&AgentConfig::port>("port", I{7400}, "TCP port of the API"),
    key<&AgentConfig::token_file>("token_file", std::nullopt, "file holding the bearer token the boot-server sends (reloaded on SIGHUP)"),
    key<&AgentConfig::tls_cert>("tls_cert", S(), "PEM certificate chain; with tls_key the API speaks HTTPS"),
    key<&AgentConfig::tls_key>("tls_key", S(), "PEM private key for tls_cert"),
    key<&AgentConfig::max_body_bytes>("max_body_bytes", I{65536}, "largest request body accepted"),
};
const std::array kLibvirtKeys{
    key<&AgentConfig::uri>("uri", S("qemu:///system"), "libvirt connection URI (test:///default for tests)"),
};
const std::array kStorageKeys{
    key<&AgentConfig::images_dir>("images_dir", S("/var/lib/labdesk/images"), "read-only base images, kernels and initrds live here"),
    key<&AgentConfig::overlay_dir>("overlay_dir", S("/var/lib/labdesk/overlays"), "throwaway per-start qcow2 overlays (the agent deletes what no VM uses)"),
    key<&AgentConfig::data_dir>("data_dir", S("/var/lib/labdesk/data"),
            "users' persistent data disks (never deleted by the agent); with several hosts, one area "
            "that every host mounts at this same path, so data follows the user (docs/data.md)"),
    key<&AgentConfig::console_dir>("console_dir", S(), "serial console sockets and logs per desktop; empty: no serial console"),
    key<&AgentConfig::console_mode>("console_mode", S("file"), "\"file\": serial output to <console_dir>/<desktop>.log; \"unix\": an interactive socket <desktop>.sock, logged too"),
    key<&AgentConfig::data_disk_mib>("data_disk_mib", I{1024}, "size of a new user's data disk in MiB"),
};
const std::array kDesktopKeys{
    key<&AgentConfig::capacity_mib>("capacity_mib", std::nullopt, "memory this host gives to desktops, in MiB"),
    key<&AgentConfig::vnc_listen>("vnc_listen", S("127.0.0.1"), "the host's internal address VNC servers listen on"),
    key<&AgentConfig::vcpus>("vcpus", I{1}, "virtual CPUs per desktop"),
    key<&AgentConfig::accel>("accel", S("auto"),
            "\"auto\": KVM with the host's CPU model where /dev/kvm works, else TCG emulation with a warning; "
            "\"kvm\": KVM or the agent does not start; \"tcg\": always emulated (docs/hosts.md)"),
    key<&AgentConfig::console_password_seconds>("console_password_seconds", I{60},
            "a console (VNC) password opens new connections for this long after it is set; the boot-server asks for a fresh one whenever a viewer needs it (0: no expiry)"),
    key<&AgentConfig::restart_policy>("restart_policy", S("on-crash"), "\"on-crash\" restarts a crashed desktop with the same data disk; \"never\""),
    key<&AgentConfig::max_restarts>("max_restarts", I{3}, "crashes a desktop may have before it stays down"),
    key<&AgentConfig::shutdown_seconds>("shutdown_seconds", I{10},
            "how long stopping a desktop waits for a clean guest shutdown (ACPI power button: the guest syncs and unmounts the data disk) before it is destroyed; 0: destroy at once"),
};
const std::array kNetworkKeys{
    key<&NetworkSpec::mode>("mode", S("nat"),
            "\"nat\": a network libvirt runs on this host (its own addresses, the host routes and masquerades); "
            "\"bridge\": desktops on an existing bridge to the admin's VLAN (addresses from the VLAN's DHCP, connections "
            "survive live moves between hosts on it); \"none\": no network card (docs/hosts.md)"),
    key<&NetworkSpec::name>("name", S("labdesk"), "nat: the libvirt network's name, the same on every host (a moving desktop needs it there)"),
    key<&NetworkSpec::bridge>("bridge", S("labdesk0"),
            "nat: the bridge libvirt makes for the network; bridge: the existing bridge on the admin's VLAN, e.g. \"br0\""),
    key<&NetworkSpec::subnet>("subnet", S("192.168.150.0/24"), "nat: the desktops' addresses; the host is the first one"),
    key<&NetworkSpec::isolated>("isolated", true,
            "desktops on this host cannot reach each other, only the host's side and beyond (bridge port isolation)"),
};
const std::array kLoadKeys{
    key<&AgentConfig::sample_ms>("sample_ms", I{250}, "time between the two samples of a load report"),
    key<&AgentConfig::cache_ms>("cache_ms", I{1000}, "requests within this time after a sample share it"),
};
const std::array kMigrationKeys{
    key<&AgentConfig::migration_peer_uri>("peer_uri", S(),
            "how the other hosts' libvirtd reach this host's libvirtd for a live migration, e.g. "
            "\"qemu+tls://host-b.lab/system\" (docs/migration.md); empty: desktops cannot move here while they run"),
    key<&AgentConfig::migration_address>("address", S(),
            "this host's address on the hosts' network that a migration's memory and disk stream comes in on "
            "(never the lab's network); empty: the host part of peer_uri"),
    key<&AgentConfig::migration_unproven_shared>("unproven_shared_storage", false,
            "the data area is a folder libvirt cannot prove is shared (the one-machine lab's stand-in for a "
            "file server's mount): let libvirt migrate desktops whose data disk is there (its --unsafe)"),
    key<&AgentConfig::migration_auto_converge>("auto_converge", true,
            "slow a desktop that writes its memory faster than it can be copied (a video, an animation) until the "
            "migration converges, instead of copying on and on or pausing it for long (libvirt's --auto-converge)"),
    key<&AgentConfig::migration_max_downtime_ms>("max_downtime_ms", I{500},
            "the longest pause of a moving desktop QEMU aims for in the last copy round"),
    key<&AgentConfig::migration_timeout_seconds>("timeout_seconds", I{120},
            "a migration still copying after this long is cancelled; the desktop keeps running where it was"),
};
const std::array kImageKeys{
    key<&ImageConfig::name>("name", std::nullopt, "catalog name the boot-server asks for"),
    key<&ImageConfig::base>("base", std::nullopt, "read-only base qcow2 (absolute, or relative to images_dir)"),
    key<&ImageConfig::kernel>("kernel", S(), "kernel for direct kernel boot (absolute, or relative to images_dir)"),
    key<&ImageConfig::initrd>("initrd", S(), "initrd for direct kernel boot"),
    key<&ImageConfig::cmdline>("cmdline", S("console=ttyS0"), "kernel command line; labdesk.user= and labdesk.session= are appended"),
    key<&ImageConfig::ready_line>("ready_line", S(), "text the guest prints on its serial console once its desktop is drawn: a desktop reports ready only then, and the broker switches a user to it only then (\"\": ready once QEMU runs)"),
};

const std::array kSchema{
    SectionSpec{"agent", false, false, kAgentKeys, "", "The API.", whole<AgentConfig>},
    SectionSpec{"libvirt", false, false, kLibvirtKeys, "", "The hypervisor connection.", whole<AgentConfig>},
    SectionSpec{"storage", false, false, kStorageKeys, "", "Directories; the agent touches no file outside them.", whole<AgentConfig>},
    SectionSpec{"desktops", false, true, kDesktopKeys,
                "no [desktops] section: add one with capacity_mib = MiB this host gives to desktops",
                "Desktop VMs.", whole<AgentConfig>},
    SectionSpec{"network", false, false, kNetworkKeys, "", "The desktops' network (docs/hosts.md).", section<&AgentConfig::network>},
    SectionSpec{"load", false, false, kLoadKeys, "", "Load reports.", whole<AgentConfig>},
    SectionSpec{"migration", false, false, kMigrationKeys, "", "Live migration between hosts (docs/migration.md).",
                whole<AgentConfig>},
    SectionSpec{"images", true, true, kImageKeys,
                "no [[images]] entries: add at least one [[images]] table with name and base",
                "The image catalog (reloaded on SIGHUP).", section<&AgentConfig::images>},
};

// A host name or an IPv4/IPv6 address: what may stand in a tcp:// migration URI.
bool host_name_or_address(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (char ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-' && ch != ':') return false;
  }
  return true;
}

std::string absolute_in(const std::string& dir, const std::string& p) {
  if (p.empty() || p.front() == '/') return p;
  return dir + "/" + p;
}

// The checked tree as the typed config (each key lands where its declaration binds it); image
// paths relative to images_dir made absolute.
AgentConfig build(const config::Tree& t) {
  AgentConfig c;
  config::bind(t, kSchema, &c);
  for (auto& im : c.images) {
    im.base = absolute_in(c.images_dir, im.base);
    im.kernel = absolute_in(c.images_dir, im.kernel);
    im.initrd = absolute_in(c.images_dir, im.initrd);
  }
  return c;
}

// Linux interface names: 1-15 characters, no '/', ':' or space.
bool interface_name(const std::string& s) {
  if (s.empty() || s.size() > 15) return false;
  for (char ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') return false;
  }
  return true;
}

template <typename Problem>
void validate_network(const NetworkSpec& n, Problem& problem) {
  if (n.mode != "nat" && n.mode != "bridge" && n.mode != "none") {
    problem("network.mode", "unknown network mode '" + n.mode + "': use \"nat\", \"bridge\" or \"none\"");
    return;
  }
  if (n.mode == "none") return;
  if (!interface_name(n.bridge)) {
    problem("network.bridge", "bridge '" + n.bridge + "' is not an interface name: use 1-15 letters, digits, '-', '_' or '.'");
  }
  if (n.mode != "nat") return;
  if (!check_session(n.name)) {
    problem("network.name", "network name '" + n.name + "' is not usable: use 1-64 letters, digits, '.', '_' or '-'");
  }
  if (auto why = subnet_problem(n.subnet); !why.empty()) problem("network.subnet", why);
}

void validate(const AgentConfig& c, const config::Tree& t, config::Problems& problems) {
  auto problem = [&](const std::string& key, std::string msg) {
    problems.add(key, t.position(key), std::move(msg));
  };
  I port = 0;
  if (const auto* e = t.find("agent.port")) port = std::get<I>(e->value);
  if (port < 0 || port > 65535) problem("agent.port", "port " + std::to_string(port) + " must be 0..65535");
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    problem("agent.tls_cert", "tls_cert and tls_key go together: give both for HTTPS or neither");
  }
  if (c.max_body_bytes < 1024) problem("agent.max_body_bytes", "max_body_bytes " + std::to_string(c.max_body_bytes) + " must be at least 1024");
  if (c.uri.empty()) problem("libvirt.uri", "libvirt.uri is empty: use e.g. \"qemu:///system\"");
  for (const auto& [key, dir] : {std::pair{"storage.images_dir", c.images_dir}, {"storage.overlay_dir", c.overlay_dir},
                                 {"storage.data_dir", c.data_dir}}) {
    if (dir.empty() || dir.front() != '/') problem(key, std::string(key) + " '" + dir + "' must be an absolute path");
  }
  if (!c.console_dir.empty() && c.console_dir.front() != '/') {
    problem("storage.console_dir", "storage.console_dir '" + c.console_dir + "' must be an absolute path or empty");
  }
  if (c.console_mode != "file" && c.console_mode != "unix") {
    problem("storage.console_mode", "unknown console_mode '" + c.console_mode + "': use \"file\" or \"unix\"");
  }
  for (const auto& other : {c.data_dir, c.images_dir}) {
    // Compared as the folders they are ("/d/" and "/x/../d" are "/d", symlinks followed): the
    // agent deletes stale files in overlay_dir, and a data disk must never look like one.
    if (!c.overlay_dir.empty() && !other.empty() && same_or_nested(c.overlay_dir, other)) {
      problem("storage.overlay_dir", "overlay_dir '" + c.overlay_dir + "' must be apart from data_dir and images_dir ('" + other +
                                         "'): the agent deletes stale files there");
    }
  }
  if (c.data_disk_mib < 16) problem("storage.data_disk_mib", "data_disk_mib " + std::to_string(c.data_disk_mib) + " must be at least 16");
  if (c.capacity_mib <= 0 && t.find("desktops.capacity_mib")) {
    problem("desktops.capacity_mib", "capacity_mib " + std::to_string(c.capacity_mib) + " must be above 0");
  }
  if (c.console_password_seconds < 0 || c.console_password_seconds > 86400) {
    problem("desktops.console_password_seconds", "console_password_seconds " + std::to_string(c.console_password_seconds) + " must be 0..86400");
  }
  if (c.vcpus < 1 || c.vcpus > 64) problem("desktops.vcpus", "vcpus " + std::to_string(c.vcpus) + " must be 1..64");
  if (c.accel != "auto" && c.accel != "kvm" && c.accel != "tcg") {
    problem("desktops.accel", "unknown accel '" + c.accel + "': use \"auto\", \"kvm\" or \"tcg\"");
  }
  if (c.restart_policy != "on-crash" && c.restart_policy != "never") {
    problem("desktops.restart_policy", "unknown restart_policy '" + c.restart_policy + "': use \"on-crash\" or \"never\"");
  }
  if (c.max_restarts < 0) problem("desktops.max_restarts", "max_restarts must be 0 or more");
  if (c.shutdown_seconds < 0 || c.shutdown_seconds > 300) {
    problem("desktops.shutdown_seconds", "shutdown_seconds '" + std::to_string(c.shutdown_seconds) + "' must be 0..300");
  }
  validate_network(c.network, problem);
  if (c.sample_ms < 10 || c.sample_ms > 10000) problem("load.sample_ms", "sample_ms " + std::to_string(c.sample_ms) + " must be 10..10000");
  if (c.cache_ms < 0) problem("load.cache_ms", "cache_ms must be 0 or more");
  if (!c.migration_peer_uri.empty() && c.migration_peer_uri.find("://") == std::string::npos) {
    problem("migration.peer_uri", "peer_uri '" + c.migration_peer_uri + "' is not a libvirt URI: use e.g. \"qemu+tls://HOST/system\"");
  }
  if (!c.migration_address.empty() && !host_name_or_address(c.migration_address)) {
    problem("migration.address", "address '" + c.migration_address + "' is not a host name or IP address");
  }
  if (c.migration_max_downtime_ms < 10 || c.migration_max_downtime_ms > 10000) {
    problem("migration.max_downtime_ms", "max_downtime_ms " + std::to_string(c.migration_max_downtime_ms) + " must be 10..10000");
  }
  if (c.migration_timeout_seconds < 5 || c.migration_timeout_seconds > 3600) {
    problem("migration.timeout_seconds", "timeout_seconds " + std::to_string(c.migration_timeout_seconds) + " must be 5..3600");
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < c.images.size(); ++i) {
    std::string p = "images[" + std::to_string(i) + "]";
    const auto& im = c.images[i];
    if (!t.find(p + ".name")) continue;
    if (!check_session(im.name)) {
      problem(p + ".name", "image name '" + im.name + "' is not usable: use 1-64 letters, digits, '.', '_' or '-'");
    } else if (!seen.insert(im.name).second) {
      problem(p + ".name", "image name '" + im.name + "' is used twice: give every image its own name");
    }
    if (!im.ready_line.empty() && c.console_dir.empty()) {
      problem(p + ".ready_line", "ready_line '" + im.ready_line + "' is read from the serial console: set storage.console_dir");
    }
    for (const auto& [key, path] : {std::pair{"base", im.base}, {"kernel", im.kernel}, {"initrd", im.initrd}}) {
      if (path.empty()) continue;
      if (!inside(c.images_dir, path)) {
        problem(p + "." + key, std::string(key) + " '" + path + "' is outside images_dir '" + c.images_dir + "': move it there");
      }
    }
    if (im.kernel.empty() != im.initrd.empty()) {
      problem(p + ".kernel", "kernel and initrd go together for direct kernel boot: give both or neither");
    }
    if (im.cmdline.find('\'') != std::string::npos || im.cmdline.find('<') != std::string::npos) {
      problem(p + ".cmdline", "cmdline must not contain quotes or '<'");
    }
  }
}

}  // namespace

const ImageConfig* AgentConfig::image(std::string_view name) const {
  for (const auto& im : images) {
    if (im.name == name) return &im;
  }
  return nullptr;
}

std::span<const config::SectionSpec> agent_schema() { return kSchema; }

AgentConfig parse_agent_config(std::string_view text, const std::string& source_name) {
  config::Problems problems;
  config::Tree tree = config::Tree::parse(text, agent_schema(), problems);
  AgentConfig c = build(tree);
  validate(c, tree, problems);
  if (!problems.empty()) throw config::ConfigError(source_name, std::move(problems));
  return c;
}

AgentConfig load_agent_config(const std::string& path) {
  return parse_agent_config(config::read_config_file(path), path);
}

}  // namespace labdesk::agent
