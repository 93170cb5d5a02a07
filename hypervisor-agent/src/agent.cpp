#include "labdesk/agent/agent.hpp"

#include "labdesk/agent/accel.hpp"
#include "labdesk/agent/api.hpp"

namespace labdesk::agent {
namespace {

StorageDirs dirs_of(const AgentConfig& c) {
  return StorageDirs{c.images_dir, c.overlay_dir, c.data_dir, c.console_dir, c.console_mode == "unix", c.data_disk_mib};
}

http::ServerOptions server_options(const AgentConfig& c, std::string token) {
  http::ServerOptions o;
  o.address = c.listen;
  o.port = c.port;
  o.max_body_bytes = static_cast<std::size_t>(c.max_body_bytes);
  o.bearer_token = std::move(token);
  if (!c.tls_cert.empty()) o.tls = http::TlsFiles{c.tls_cert, c.tls_key};
  o.server_name = "labdesk-agent";
  return o;
}

// The config as the agent runs it: accel resolved to what this host can do.
std::shared_ptr<const AgentConfig> resolved(AgentConfig c, spdlog::logger& log) {
  auto choice = choose_accel(c.accel, probe_kvm());
  if (!choice) throw Failure(choice.error());
  if (!choice->warning.empty()) log.warn("{}", choice->warning);
  c.accel = choice->accel;
  return std::make_shared<const AgentConfig>(std::move(c));
}

}  // namespace

// desktops_ is handed a reference to libvirt_ before libvirt_ is built: Desktops only stores it,
// and nothing calls it before start().
Agent::Agent(EventLoop& loop, AgentConfig cfg, std::string token, boost::asio::io_context& io,
             std::shared_ptr<spdlog::logger> log)
    : cfg_(resolved(std::move(cfg), *log)),
      log_(log),
      storage_(dirs_of(*cfg_), log),
      desktops_(cfg_, libvirt_, storage_, events_, log),
      libvirt_(loop, Libvirt::Options{cfg_->uri}, log,
               [this](const LifecycleEvent& e) { desktops_.on_lifecycle(e); },
               [this] { desktops_.resync(); }),
      load_(cfg_->host, std::chrono::milliseconds(cfg_->sample_ms), std::chrono::milliseconds(cfg_->cache_ms),
            [this] { return desktops_.vm_samples(); }, [this] { return desktops_.committed_mib(); }, log),
      server_(io, server_options(*cfg_, std::move(token)),
              make_router(ApiDeps{desktops_, load_, events_, [this] { return health(); }, io}), log) {}

Agent::~Agent() {
  server_.stop();
  libvirt_.stop();
  desktops_.stop();
}

void Agent::start() {
  storage_.prepare();
  libvirt_.start();
  server_.start();
  log_->info("labdesk-agent {} listening on '{}:{}' for host '{}', libvirt '{}', desktops on '{}'", kVersion,
             cfg_->listen, server_.port(), cfg_->host, cfg_->uri, cfg_->accel);
}

void Agent::reload(const AgentConfig& next, std::string token) {
  auto cur = desktops_.config();
  auto merged = std::make_shared<AgentConfig>(*cur);
  merged->images = next.images;
  merged->restart_policy = next.restart_policy;
  merged->max_restarts = next.max_restarts;
  merged->shutdown_seconds = next.shutdown_seconds;
  merged->capacity_mib = next.capacity_mib;
  if (next.listen != cur->listen || next.port != cur->port || next.uri != cur->uri ||
      next.images_dir != cur->images_dir || next.overlay_dir != cur->overlay_dir ||
      next.data_dir != cur->data_dir || next.tls_cert != cur->tls_cert || next.vnc_listen != cur->vnc_listen) {
    log_->warn("config reload: listen, port, uri, TLS, directories and vnc_listen need a restart; kept the running values");
  }
  desktops_.set_config(merged);
  server_.set_token(std::move(token));
  log_->info("config reloaded: token, {} image(s), capacity {} MiB, restart policy '{}'", merged->images.size(),
             merged->capacity_mib, merged->restart_policy);
}

void Agent::drain() {
  log_->info("draining: no new requests; running desktops keep running");
  server_.stop();
  events_.release_all();
}

std::uint16_t Agent::port() const { return server_.port(); }

api::agent::Health Agent::health() const {
  auto cfg = desktops_.config();
  bool up = libvirt_.connected();
  return api::agent::Health{up, up ? "connected" : "reconnecting", cfg->uri, cfg->host, cfg->capacity_mib, kVersion, cfg->accel};
}

}  // namespace labdesk::agent
