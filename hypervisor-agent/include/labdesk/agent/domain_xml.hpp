// Domain XML for a desktop, rendered by a pure function (golden-file tested), and the agent's
// libvirt <metadata> read back: the whole agent state lives in libvirt.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "labdesk/agent/network.hpp"

namespace labdesk::agent {

inline constexpr std::string_view kMetadataNs = "https://labdesk.dev/xmlns/agent/1";
inline constexpr std::string_view kMetadataPrefix = "labdesk";

// What the agent records in a domain's metadata: enough to list, restart and clean up.
struct DesktopMeta {
  std::string user;
  std::string session;
  std::string image;
  int tier = 0;
  std::string data_disk;  // "" → started without it (a handoff's replacement), plugged in later
  std::string overlay;
  std::int64_t max_memory_mib = 0;
  int restarts = 0;
  std::int64_t memory_mib = 0;  // requested balloon target (libvirt's own figure is the actual)
  // Boots whose ready line is in another host's console log (it arrived by live migration after
  // restarts + 1 boots): this host's log shows only the boots after the arrival.
  int boots_elsewhere = 0;
};

// What differs between two hosts in a running desktop's domain XML.
struct HostPaths {
  std::string overlay;
  std::string console_socket;
  std::string console_log;
  std::string kernel;
  std::string initrd;
  std::string vnc_listen;
};

struct DomainSpec {
  std::string name;
  DesktopMeta meta;
  std::int64_t memory_mib = 0;      // currentMemory: the balloon target
  std::int64_t max_memory_mib = 0;  // memory: what the balloon may grow back to
  std::int64_t vcpus = 1;
  std::string accel = "tcg";  // "kvm": hardware virtualization, the host's CPU model; "tcg": emulated
  std::string base;     // read-only backing file of the overlay (documentation in the XML only)
  std::string kernel;   // "" → boot from vda
  std::string initrd;
  std::string cmdline;  // complete, including labdesk.user=… labdesk.session=…
  std::string vnc_listen;
  std::string vnc_password;  // ≤ 8 characters (the RFB limit)
  // UTC "YYYY-MM-DDTHH:MM:SS" after which the password opens no new connection; "" → never.
  std::string vnc_password_valid_to;
  std::string console_socket;  // serial on this unix socket (logged to console_log)
  std::string console_log;     // without a socket: serial written to this file; both "" → none
  NetworkSpec network;         // mode "none": no network card
};

std::string render_domain_xml(const DomainSpec& spec);
// The user's data disk (vdb) as a <disk> element: in the domain XML, and alone for
// virDomainAttachDeviceFlags, which plugs it into a running desktop.
std::string render_data_disk(const std::string& path);
// The <graphics> element: in the domain XML, and alone for virDomainUpdateDeviceFlags, which
// changes a running domain's console password (same listen and autoport, new passwd/validTo).
std::string render_graphics(const std::string& listen, const std::string& password, const std::string& valid_to);
// libvirt's passwdValidTo form: UTC "YYYY-MM-DDTHH:MM:SS".
std::string utc_timestamp(std::chrono::system_clock::time_point t);
// The <labdesk:desktop> element alone; unprefixed (no namespace declaration) is the form
// virDomainSetMetadata takes, the namespace then coming from its own arguments.
std::string render_metadata(const DesktopMeta& meta, bool prefixed = true);
// Reads the element back (as virDomainGetMetadata returns it); nullopt if it is not ours.
std::optional<DesktopMeta> parse_metadata(std::string_view xml);

// The XML a destination host runs a migrating desktop with: libvirt's migratable XML with each
// host-specific value of `from` (attribute values, <kernel>/<initrd> text) replaced by the one in
// `to`, and the agent's metadata replaced by `meta`. nullopt if the XML has no labdesk metadata.
std::optional<std::string> migration_xml(std::string xml, const HostPaths& from, const HostPaths& to,
                                         const DesktopMeta& meta);

// The VNC port of a running domain from its live XML (0 if none yet).
int vnc_port_from_xml(std::string_view live_xml);

std::string xml_escape(std::string_view s);

}  // namespace labdesk::agent
