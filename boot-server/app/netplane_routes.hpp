// The network plane's HTTP routes: boot script, boot files, announces (lab side) and status,
// clients, forwards (admin side). Built from explicit parts so that the fuzz targets drive the
// same routes the daemon serves.
#pragma once

#include <functional>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "config/lab_config.hpp"
#include "labdesk/http/router.hpp"
#include "nat/forward_table.hpp"
#include "pxe/boot_files.hpp"
#include "store/store.hpp"

namespace labdesk::boot {

struct NetplaneRoutes {
  std::function<std::shared_ptr<const config::LabConfig>()> config;  // the current config
  BootFiles& boot_files;
  Store& store;
  ForwardTable& forwards;
  std::function<nlohmann::json()> dnsmasq_status;
  std::shared_ptr<spdlog::logger> log;
  std::string lab_ca_pem;  // the CA lab PCs trust ("" with tls.enabled false)
};

// GET /boot.ipxe, GET /boot/{version}/..., GET /lab-ca.cpio.gz, POST /v1/announce: open to every lab PC.
http::Router lab_routes(const NetplaneRoutes& d);
// The lab API's routes on plain HTTP when it is served over HTTPS: a 403 naming `https_url`, so
// that nothing is sent there twice in clear.
void add_https_required(http::Router& lab, const std::string& https_url);
// GET /v1/status, /v1/clients, /v1/forwards (what nftables holds; the broker's sessions own
// them): the admin token.
http::Router admin_routes(const NetplaneRoutes& d);

}  // namespace labdesk::boot
