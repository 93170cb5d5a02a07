// The network plane's HTTP routes: boot script, boot files, announces (lab side) and status,
// clients, forwards (admin side). Built from explicit parts so that the fuzz targets drive the
// same routes the daemon serves.
#pragma once

#include <functional>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "labdesk/common/lab_config.hpp"
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
};

// GET /boot.ipxe, GET /boot/{version}/..., POST /v1/announce: open to every lab PC.
http::Router lab_routes(const NetplaneRoutes& d);
// GET /v1/status, /v1/clients, /v1/forwards; PUT/DELETE /v1/forwards/{port}: the admin token.
http::Router admin_routes(const NetplaneRoutes& d);

}  // namespace labdesk::boot
