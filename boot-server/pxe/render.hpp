// Pure renderers for what dnsmasq and iPXE read: the same inputs always give the same text, so
// golden files pin them down. Applying them (files, processes) is supervisor.hpp's job.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/lab_config.hpp"

namespace labdesk::boot {

// Where the rendered dnsmasq config points to; all inside the boot-server's state folder.
struct DnsmasqPaths {
  std::string tftp_root;
  std::string lease_file;
  std::string hosts_file;  // dhcp-hostsfile: reservations, re-read on SIGHUP
};

// "http://10.77.0.1:8080" from lab.address and boot.http_port.
std::string http_base(const config::LabConfig& c);

// Where lab PCs log in: "https://10.77.0.1:8443" (tls.enabled), else http_base.
std::string lab_api_url(const config::LabConfig& c);

std::string render_dnsmasq_conf(const config::LabConfig& c, const DnsmasqPaths& paths);

// One "MAC,IP[,NAME]" line per reservation (dnsmasq's dhcp-hostsfile format).
std::string render_dhcp_hosts(const std::vector<config::ReservationConfig>& reservations);

// The boot.ipxe template from pxe-assets with its @NAME@ placeholders replaced; unknown
// placeholders are left as they are. An empty template gives labdesk's built-in script.
std::string render_boot_script(const std::string& templ, const std::map<std::string, std::string>& vars);

// The values for the template for one boot version.
std::map<std::string, std::string> boot_script_vars(const config::LabConfig& c, const std::string& version);

}  // namespace labdesk::boot
