#pragma once

#include <string>

#include "config/lab_config.hpp"

namespace labdesk::test {

inline const char* kLabToml = R"(
[lab]
interface = "br0"
address = "10.77.0.1/24"
range_start = "10.77.0.100"
range_end = "10.77.0.200"
dns = ["10.77.0.1", "9.9.9.9"]

[[reservations]]
mac = "52:54:00:77:00:10"
ip = "10.77.0.10"
name = "pc10"

[[reservations]]
mac = "52:54:00:AA:00:11"
ip = "10.77.0.11"

[boot]
assets_dir = "/srv/pxe"
state_dir = "/var/lib/labdesk"
cmdline = "quiet"

[[hosts]]
name = "virt-a"
capacity_mib = 4096
)";

inline config::LabConfig lab(const std::string& extra = "") { return config::parse_lab_config(std::string(kLabToml) + extra, "lab.toml"); }

}  // namespace labdesk::test
