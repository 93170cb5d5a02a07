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

using config::Kind;
using config::KeySpec;
using config::SectionSpec;
using config::Value;
using I = std::int64_t;
using S = std::string;

const std::array kAgentKeys{
    KeySpec{"host", Kind::string, Value{S("localhost")}, "this host's name in health and load reports"},
    KeySpec{"listen", Kind::string, Value{S("127.0.0.1")}, "address the API listens on"},
    KeySpec{"port", Kind::integer, Value{I{7400}}, "TCP port of the API"},
    KeySpec{"token_file", Kind::string, std::nullopt, "file holding the bearer token the boot-server sends (reloaded on SIGHUP)"},
    KeySpec{"tls_cert", Kind::string, Value{S()}, "PEM certificate chain; with tls_key the API speaks HTTPS"},
    KeySpec{"tls_key", Kind::string, Value{S()}, "PEM private key for tls_cert"},
    KeySpec{"max_body_bytes", Kind::integer, Value{I{65536}}, "largest request body accepted"},
};
const std::array kLibvirtKeys{
    KeySpec{"uri", Kind::string, Value{S("qemu:///system")}, "libvirt connection URI (test:///default for tests)"},
};
const std::array kStorageKeys{
    KeySpec{"images_dir", Kind::string, Value{S("/var/lib/labdesk/images")}, "read-only base images, kernels and initrds live here"},
    KeySpec{"overlay_dir", Kind::string, Value{S("/var/lib/labdesk/overlays")}, "throwaway per-start qcow2 overlays (the agent deletes what no VM uses)"},
    KeySpec{"data_dir", Kind::string, Value{S("/var/lib/labdesk/data")}, "users' persistent data disks (never deleted by the agent)"},
    KeySpec{"console_dir", Kind::string, Value{S()}, "serial console sockets and logs per desktop; empty: no serial console"},
    KeySpec{"console_mode", Kind::string, Value{S("file")}, "\"file\": serial output to <console_dir>/<desktop>.log; \"unix\": an interactive socket <desktop>.sock, logged too"},
    KeySpec{"data_disk_mib", Kind::integer, Value{I{1024}}, "size of a new user's data disk in MiB"},
};
const std::array kDesktopKeys{
    KeySpec{"capacity_mib", Kind::integer, std::nullopt, "memory this host gives to desktops, in MiB"},
    KeySpec{"vnc_listen", Kind::string, Value{S("127.0.0.1")}, "the host's internal address VNC servers listen on"},
    KeySpec{"vcpus", Kind::integer, Value{I{1}}, "virtual CPUs per desktop"},
    KeySpec{"console_password_seconds", Kind::integer, Value{I{60}},
            "a console (VNC) password opens new connections for this long after it is set; the boot-server asks for a fresh one whenever a viewer needs it (0: no expiry)"},
    KeySpec{"restart_policy", Kind::string, Value{S("on-crash")}, "\"on-crash\" restarts a crashed desktop with the same data disk; \"never\""},
    KeySpec{"max_restarts", Kind::integer, Value{I{3}}, "crashes a desktop may have before it stays down"},
    KeySpec{"shutdown_seconds", Kind::integer, Value{I{10}},
            "how long stopping a desktop waits for a clean guest shutdown (ACPI power button: the guest syncs and unmounts the data disk) before it is destroyed; 0: destroy at once"},
};
const std::array kLoadKeys{
    KeySpec{"sample_ms", Kind::integer, Value{I{250}}, "time between the two samples of a load report"},
    KeySpec{"cache_ms", Kind::integer, Value{I{1000}}, "requests within this time after a sample share it"},
};
const std::array kImageKeys{
    KeySpec{"name", Kind::string, std::nullopt, "catalog name the boot-server asks for"},
    KeySpec{"base", Kind::string, std::nullopt, "read-only base qcow2 (absolute, or relative to images_dir)"},
    KeySpec{"kernel", Kind::string, Value{S()}, "kernel for direct kernel boot (absolute, or relative to images_dir)"},
    KeySpec{"initrd", Kind::string, Value{S()}, "initrd for direct kernel boot"},
    KeySpec{"cmdline", Kind::string, Value{S("console=ttyS0")}, "kernel command line; labdesk.user= and labdesk.session= are appended"},
};

const std::array kSchema{
    SectionSpec{"agent", false, false, kAgentKeys, "", "The API."},
    SectionSpec{"libvirt", false, false, kLibvirtKeys, "", "The hypervisor connection."},
    SectionSpec{"storage", false, false, kStorageKeys, "", "Directories; the agent touches no file outside them."},
    SectionSpec{"desktops", false, true, kDesktopKeys,
                "no [desktops] section: add one with capacity_mib = MiB this host gives to desktops",
                "Desktop VMs."},
    SectionSpec{"load", false, false, kLoadKeys, "", "Load reports."},
    SectionSpec{"images", true, true, kImageKeys,
                "no [[images]] entries: add at least one [[images]] table with name and base",
                "The image catalog (reloaded on SIGHUP)."},
};

class Reader {
 public:
  explicit Reader(const config::Tree& t) : t_(t) {}
  template <typename T>
  void operator()(const std::string& key, T& out) const {
    if (const auto* e = t_.find(key)) {
      if (const auto* v = std::get_if<T>(&e->value)) out = *v;
    }
  }

 private:
  const config::Tree& t_;
};

std::string absolute_in(const std::string& dir, const std::string& p) {
  if (p.empty() || p.front() == '/') return p;
  return dir + "/" + p;
}

AgentConfig build(const config::Tree& t) {
  Reader r(t);
  AgentConfig c;
  I port = 0;
  r("agent.host", c.host);
  r("agent.listen", c.listen);
  r("agent.port", port);
  c.port = static_cast<std::uint16_t>(port >= 0 && port <= 65535 ? port : 0);
  r("agent.token_file", c.token_file);
  r("agent.tls_cert", c.tls_cert);
  r("agent.tls_key", c.tls_key);
  r("agent.max_body_bytes", c.max_body_bytes);
  r("libvirt.uri", c.uri);
  r("storage.images_dir", c.images_dir);
  r("storage.overlay_dir", c.overlay_dir);
  r("storage.data_dir", c.data_dir);
  r("storage.console_dir", c.console_dir);
  r("storage.console_mode", c.console_mode);
  r("storage.data_disk_mib", c.data_disk_mib);
  r("desktops.capacity_mib", c.capacity_mib);
  r("desktops.vnc_listen", c.vnc_listen);
  r("desktops.vcpus", c.vcpus);
  r("desktops.console_password_seconds", c.console_password_seconds);
  r("desktops.restart_policy", c.restart_policy);
  r("desktops.max_restarts", c.max_restarts);
  r("desktops.shutdown_seconds", c.shutdown_seconds);
  r("load.sample_ms", c.sample_ms);
  r("load.cache_ms", c.cache_ms);
  for (std::size_t i = 0; i < t.count("images"); ++i) {
    std::string p = "images[" + std::to_string(i) + "]";
    ImageConfig im;
    r(p + ".name", im.name);
    r(p + ".base", im.base);
    r(p + ".kernel", im.kernel);
    r(p + ".initrd", im.initrd);
    r(p + ".cmdline", im.cmdline);
    im.base = absolute_in(c.images_dir, im.base);
    im.kernel = absolute_in(c.images_dir, im.kernel);
    im.initrd = absolute_in(c.images_dir, im.initrd);
    c.images.push_back(std::move(im));
  }
  return c;
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
  if (c.restart_policy != "on-crash" && c.restart_policy != "never") {
    problem("desktops.restart_policy", "unknown restart_policy '" + c.restart_policy + "': use \"on-crash\" or \"never\"");
  }
  if (c.max_restarts < 0) problem("desktops.max_restarts", "max_restarts must be 0 or more");
  if (c.shutdown_seconds < 0 || c.shutdown_seconds > 300) {
    problem("desktops.shutdown_seconds", "shutdown_seconds '" + std::to_string(c.shutdown_seconds) + "' must be 0..300");
  }
  if (c.sample_ms < 10 || c.sample_ms > 10000) problem("load.sample_ms", "sample_ms " + std::to_string(c.sample_ms) + " must be 10..10000");
  if (c.cache_ms < 0) problem("load.cache_ms", "cache_ms must be 0 or more");
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
  std::ifstream in(path);
  if (!in) {
    config::Problems p;
    p.add("", {}, "cannot read the config file: check the path and its permissions");
    throw config::ConfigError(path, std::move(p));
  }
  std::ostringstream s;
  s << in.rdbuf();
  return parse_agent_config(s.str(), path);
}

}  // namespace labdesk::agent
