#include "labdesk/common/token_file.hpp"
#include "app/boot_server.hpp"

#include <fstream>
#include <sstream>

#include <boost/asio/steady_timer.hpp>

#include "app/netplane_routes.hpp"
#include "labdesk/common/file.hpp"
#include "nat/netcheck.hpp"
#include "tls/lab_ca.hpp"

namespace labdesk::boot {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_text(const fs::path& p) { return read_file(p).value_or(""); }

// Writes only when the text differs; atomic (rename). Returns whether it changed.
bool write_if_changed(const fs::path& p, const std::string& text) {
  std::error_code ec;
  if (fs::exists(p, ec) && read_text(p) == text) return false;
  fs::path tmp = p;
  tmp += ".tmp";
  std::ofstream(tmp, std::ios::binary | std::ios::trunc) << text;
  fs::rename(tmp, p);
  return true;
}

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw Failure(Error{"tls_setup", "cannot read '" + path + "': check [tls] in the lab config", 500});
  }
  return read_text(path);
}

// The admin API's token; no file configured means no token (loopback only).
std::string read_token(const std::string& file) { return file.empty() ? "" : read_token_file(file); }

void set_sysctl(const std::string& path, const std::string& value) {
  std::ofstream(path) << value;
}

}  // namespace

config::Problems boot_server_problems(const config::LabConfig& c) {
  config::Problems p;
  if (c.lab.interface.empty()) p.add("lab.interface", {}, "lab.interface is not set: name the lab network interface, e.g. interface = \"br0\"");
  if (c.lab.address.empty()) p.add("lab.address", {}, "lab.address is not set: give the boot-server's lab address, e.g. address = \"10.77.0.1/24\"");
  if (c.boot.assets_dir.empty()) p.add("boot.assets_dir", {}, "boot.assets_dir is not set: point it at the pxe-assets output folder");
  return p;
}

BootServer::BootServer(boost::asio::io_context& control, config::LabConfig config, std::string config_path,
                       std::shared_ptr<spdlog::logger> log, Extensions ext)
    : control_(control), config_path_(std::move(config_path)), log_(std::move(log)), ext_(std::move(ext)),
      config_(std::make_shared<const config::LabConfig>(std::move(config))), state_(config_->boot.state_dir) {}

BootServer::~BootServer() {
  if (work_) drain(std::chrono::milliseconds(0));
  join();
}

std::shared_ptr<const config::LabConfig> BootServer::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

std::vector<std::string> BootServer::loaders(const config::LabConfig& c) const {
  return {c.boot.bios_loader, c.boot.uefi_loader, c.boot.uefi32_loader};
}

DnsmasqPaths BootServer::dnsmasq_paths() const {
  return {(state_ / "tftp").string(), (state_ / "dnsmasq.leases").string(), (state_ / "dnsmasq.hosts").string()};
}

void BootServer::preflight() const {
  const auto c = config();
  config::Problems problems = boot_server_problems(*c);
  if (!problems.empty()) throw config::ConfigError(config_path_, std::move(problems));
  std::string warning;
  if (auto ok = check_lab_interface(c->lab.interface, c->lab.address, warning); !ok) problems.add("lab", {}, ok.error().message);
  if (!warning.empty()) log_->warn("{}", warning);
  if (auto missing = BootFiles::check_assets(c->boot.assets_dir, loaders(*c)); !missing.empty()) problems.add("boot.assets_dir", {}, missing);
  try {
    read_token(c->api.token_file);
  } catch (const Failure& e) {
    problems.add("api.token_file", {}, e.what());
  }
  if (c->tls.enabled && !c->tls.cert.empty()) {
    const std::string ip = c->lab.address.substr(0, c->lab.address.find('/'));
    std::error_code ec;
    if (!fs::is_regular_file(c->tls.cert, ec) || !fs::is_regular_file(c->tls.key, ec) || !fs::is_regular_file(c->tls.ca, ec)) {
      problems.add("tls.cert", {}, "tls.cert '" + c->tls.cert + "', tls.key '" + c->tls.key + "' or tls.ca '" + c->tls.ca + "' is not a readable file");
    } else if (!certificate_valid_for(read_text(c->tls.cert), read_text(c->tls.ca), ip)) {
      problems.add("tls.cert", {}, "tls.cert '" + c->tls.cert + "' does not name the lab address '" + ip +
                                       "', is not issued by tls.ca '" + c->tls.ca + "' or ends within 30 days: lab PCs would refuse it");
    }
  }
  // dnsmasq's own opinion of what we would run, from a scratch copy.
  const fs::path scratch = fs::temp_directory_path() / ("labdesk-dnsmasq-test-" + std::to_string(::getpid()) + ".conf");
  std::ofstream(scratch) << render_dnsmasq_conf(*c, dnsmasq_paths());
  if (auto complaint = DnsmasqSupervisor::test_config(c->boot.dnsmasq, scratch.string()); !complaint.empty()) {
    problems.add("lab", {}, "dnsmasq rejects the rendered config: '" + complaint + "'");
  }
  std::error_code ec;
  fs::remove(scratch, ec);
  if (!problems.empty()) throw config::ConfigError(config_path_, std::move(problems));
}

std::pair<bool, bool> BootServer::write_dnsmasq_files(const config::LabConfig& c) {
  const auto paths = dnsmasq_paths();
  const bool hosts = write_if_changed(paths.hosts_file, render_dhcp_hosts(c.reservations));
  const bool conf = write_if_changed(state_ / "dnsmasq.conf", render_dnsmasq_conf(c, paths));
  return {conf, hosts};
}

void BootServer::start(std::size_t http_threads) {
  const auto c = config();
  fs::create_directories(state_);
  store_ = std::make_unique<Store>(c->store.path.empty() ? (state_ / "labdesk.sqlite").string() : c->store.path, ext_.migrations);
  // One named logger per part, on the process's one sink: "pxe", "nat" (the broker has its own).
  pxe_log_ = log_->clone("pxe");
  nat_log_ = log_->clone("nat");
  boot_files_ = std::make_unique<BootFiles>(state_, static_cast<std::size_t>(c->boot.keep_versions), pxe_log_);
  boot_files_->import(c->boot.assets_dir, loaders(*c));
  write_dnsmasq_files(*c);

  nft_ = std::make_unique<LibNftables>();
  forwards_ = std::make_unique<ForwardTable>(nat_spec(*c), *nft_, nat_log_);
  if (ext_.attach) ext_.attach(*store_, *forwards_);

  work_ = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(http_io_.get_executor());
  http::ServerOptions lab_opt;
  lab_opt.address = c->lab.address.substr(0, c->lab.address.find('/'));
  lab_opt.port = static_cast<std::uint16_t>(c->boot.http_port);
  lab_opt.max_body_bytes = 64 * 1024;
  lab_opt.server_name = "labdesk-boot-server";
  lab_opt.io_threads = std::max<std::size_t>(1, http_threads);  // thin clients: thousands of connections
  lab_opt.max_connections = static_cast<std::size_t>(c->boot.max_connections);
  lab_opt.max_connections_per_source = static_cast<std::size_t>(c->boot.max_connections_per_pc);
  std::string lab_ca_pem;
  http::ServerOptions https_opt = lab_opt;
  if (c->tls.enabled) {
    const LabTlsFiles f = c->tls.cert.empty() ? ensure_own_lab_tls(state_ / "tls", {lab_opt.address}, *log_)
                                              : LabTlsFiles{c->tls.ca, c->tls.cert, c->tls.key};
    https_opt.port = static_cast<std::uint16_t>(c->tls.port);
    https_opt.tls = http::TlsFiles{f.cert, f.key};
    lab_ca_pem = read_text_file(f.ca);
  }
  const NetplaneRoutes deps{[this] { return config(); }, *boot_files_, *store_, *forwards_,
                            [this] { return dnsmasq_status(); }, log_, lab_ca_pem};
  http::Router lab = lab_routes(deps);
  http::Router lab_api;  // logins and console credentials: over HTTPS only when tls.enabled
  http::Router admin = admin_routes(deps);
  if (ext_.routes) ext_.routes(c->tls.enabled ? lab_api : lab, admin);
  if (c->tls.enabled) {
    add_https_required(lab, lab_api_url(*c));
    lab_https_ = std::make_unique<http::Server>(http_io_, https_opt, std::move(lab_api), log_);
  }
  lab_http_ = std::make_unique<http::Server>(http_io_, lab_opt, std::move(lab), log_);
  http::ServerOptions api_opt;
  api_opt.address = c->api.address;
  api_opt.port = static_cast<std::uint16_t>(c->api.port);
  api_opt.bearer_token = read_token(c->api.token_file);
  api_opt.server_name = "labdesk-boot-server";
  admin_http_ = std::make_unique<http::Server>(http_io_, api_opt, std::move(admin), log_);
  file_server_ = std::make_unique<BootFileServer>(http_io_, lab_opt.address, static_cast<std::uint16_t>(c->boot.files_port),
                                                 *boot_files_, pxe_log_);
  file_server_->start();
  for (std::size_t i = 0; i < http_threads; ++i) threads_.emplace_back([this] { http_io_.run(); });

  try {
    if (c->nat.enabled) set_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
    // The broker reconciles before the APIs accept anything: its sessions' forwards build the
    // table, and nothing races that. Until then the previous table keeps running desktops reached.
    if (ext_.started) {
      ext_.started();
    } else if (auto r = forwards_->rebuild({}); !r) {
      throw Failure(r.error());
    }
    if (c->nat.enabled && !forwards_->applied()) {
      throw Failure(Error{"nat_failed", "nftables table '" + c->nat.table + "' could not be built: the 'nat' log says why", 500});
    }
    lab_http_->start();
    if (lab_https_) lab_https_->start();
    admin_http_->start();
    SupervisorOptions so;
    so.binary = c->boot.dnsmasq;
    so.conf_file = (state_ / "dnsmasq.conf").string();
    so.log_file = (state_ / "dnsmasq.log").string();
    dnsmasq_ = std::make_unique<DnsmasqSupervisor>(control_, so, pxe_log_);
    dnsmasq_->start();
  } catch (...) {
    // Forwards of running desktops stay in place: a failed restart must not cut every student
    // off their desktop. Only a table that serves no one is removed.
    if (forwards_ && forwards_->applied() && forwards_->list().empty()) (void)forwards_->teardown();
    drain(std::chrono::milliseconds(0));
    join();
    throw;
  }
  log_->info("boot-server up on '{}' (boot files '{}', lab api '{}', admin api '{}:{}', boot version '{}', dhcp '{}')",
             c->lab.interface, http_base(*c), lab_api_url(*c), c->api.address, admin_http_->port(), boot_files_->current(),
             c->lab.dhcp);
}

void BootServer::reload() {
  config::LabConfig next;
  try {
    next = config::load_lab_config(config_path_);
    auto p = boot_server_problems(next);
    if (!p.empty()) throw config::ConfigError(config_path_, std::move(p));
  } catch (const std::exception& e) {
    log_->error("reload refused, keeping the running config: {}", e.what());
    return;
  }
  const auto old = config();
  auto restart_needed = [&](const char* what, bool differs) {
    if (differs) log_->warn("reload: '{}' changed; it takes effect after a restart", what);
  };
  restart_needed("lab.interface", next.lab.interface != old->lab.interface);
  restart_needed("lab.address", next.lab.address != old->lab.address);
  restart_needed("boot.http_port", next.boot.http_port != old->boot.http_port);
  restart_needed("boot.files_port", next.boot.files_port != old->boot.files_port);
  restart_needed("boot.state_dir", next.boot.state_dir != old->boot.state_dir);
  restart_needed("store.path", next.store.path != old->store.path);
  restart_needed("api", next.api.address != old->api.address || next.api.port != old->api.port);
  restart_needed("tls", next.tls.enabled != old->tls.enabled || next.tls.port != old->tls.port ||
                            next.tls.cert != old->tls.cert || next.tls.key != old->tls.key || next.tls.ca != old->tls.ca);
  next.lab.interface = old->lab.interface;
  next.lab.address = old->lab.address;
  next.boot.http_port = old->boot.http_port;
  next.boot.files_port = old->boot.files_port;
  next.boot.state_dir = old->boot.state_dir;
  next.store.path = old->store.path;
  next.api = old->api;
  next.tls = old->tls;
  try {
    boot_files_->import(next.boot.assets_dir, loaders(next));
  } catch (const std::exception& e) {
    log_->error("reload refused, keeping the running config: {}", e.what());
    return;
  }
  {
    std::lock_guard lock(mu_);
    config_ = std::make_shared<const config::LabConfig>(next);
  }
  auto [conf_changed, hosts_changed] = write_dnsmasq_files(next);
  if (conf_changed) {
    log_->info("reload: dnsmasq config changed; restarting dnsmasq");
    try {
      dnsmasq_->restart();
    } catch (const std::exception& e) {
      log_->error("reload: dnsmasq did not start with the new config: {}", e.what());
    }
  } else if (hosts_changed) {
    dnsmasq_->reload_hosts();
  }
  if (auto r = forwards_->respec(nat_spec(next)); !r) log_->error("reload: {}", r.error().message);
  log_->info("config reloaded from '{}' (boot version '{}')", config_path_, boot_files_->current());
}

void BootServer::drain(std::chrono::milliseconds grace) {
  if (lab_http_) lab_http_->stop();
  if (lab_https_) lab_https_->stop();
  if (admin_http_) admin_http_->stop();
  if (file_server_) file_server_->stop();
  if (dnsmasq_) dnsmasq_->stop();
  if (!work_) return;
  work_.reset();
  if (grace.count() == 0) {
    http_io_.stop();
    if (lab_http_) lab_http_->halt();
    if (lab_https_) lab_https_->halt();
    return;
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(control_, grace);
  // After the grace the control loop ends too, whatever timers the broker still holds on it.
  timer->async_wait([this, timer](const boost::system::error_code&) {
    http_io_.stop();
    if (lab_http_) lab_http_->halt();
    if (lab_https_) lab_https_->halt();
    control_.stop();
  });
}

void BootServer::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  if (lab_http_) lab_http_->join();
  if (lab_https_) lab_https_->join();
}

json BootServer::dnsmasq_status() const {
  return {{"pid", dnsmasq_ ? dnsmasq_->pid() : -1}, {"healthy", dnsmasq_ && dnsmasq_->healthy()},
          {"restarts", dnsmasq_ ? dnsmasq_->restarts() : 0}};
}

std::uint16_t BootServer::http_port() const { return lab_http_ ? lab_http_->port() : 0; }
std::uint16_t BootServer::https_port() const { return lab_https_ ? lab_https_->port() : 0; }
std::uint16_t BootServer::api_port() const { return admin_http_ ? admin_http_->port() : 0; }

}  // namespace labdesk::boot
