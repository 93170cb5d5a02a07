#include "app/broker_service.hpp"

#include "labdesk/allocator/from_config.hpp"
#include "labdesk/common/token_file.hpp"

#include <ctime>

#include <boost/asio/post.hpp>

namespace labdesk::boot {
namespace {

// A [[hosts]] entry without agent_url: the host counts as down (network-only setups, tests).
class NoAgent final : public broker::AgentPort {
 public:
  explicit NoAgent(std::string host) : host_(std::move(host)) {}
  Result<api::agent::LoadReport> load() override { return missing(); }
  Result<std::vector<api::agent::Desktop>> list() override { return missing(); }
  Result<api::agent::Desktop> create(const api::agent::CreateDesktop&) override { return missing(); }
  Result<void> destroy(const std::string&) override { return missing(); }
  Result<api::agent::Desktop> attach_data(const std::string&) override { return missing(); }
  Result<api::agent::MemoryReport> resize(const std::string&, std::int64_t) override { return missing(); }
  Result<api::agent::Vnc> console_password(const std::string&, std::chrono::seconds) override { return missing(); }
  Result<api::agent::RetiredData> retire_data(const std::string& user, const std::string& mode) override {
    return api::agent::RetiredData{user, mode, false, ""};  // no agent: no data disk here
  }
  Result<api::agent::EventBatch> events(std::uint64_t, std::chrono::seconds) override { return missing(); }
  Result<api::agent::MigrationTarget> prepare_incoming(const api::agent::IncomingMigration&) override { return missing(); }
  Result<api::agent::MigrationReport> migrate(const std::string&, const api::agent::MigrationTarget&) override {
    return missing();
  }
  Result<api::agent::Arrival> finish_incoming(const std::string&, std::chrono::milliseconds) override { return missing(); }

 private:
  std::unexpected<Error> missing() const {
    return std::unexpected(Error{"no_agent", "host '" + host_ + "' has no agent_url in the config", 503});
  }
  std::string host_;
};

// rebalance.* as the broker's options; quiet_hours compared with the local time of day.
broker::RebalanceOptions rebalance_options(const config::RebalanceConfig& r) {
  broker::RebalanceOptions o;
  o.enabled = r.enabled;
  o.grow_idle = std::chrono::seconds(r.grow_idle_seconds);
  o.balance = alloc::BalancePolicy{r.memory_spread, r.cpu_spread};
  o.cooldown = std::chrono::seconds(r.cooldown_seconds);
  if (auto q = config::parse_quiet_hours(r.quiet_hours)) {
    o.quiet_now = [from = q->first, to = q->second] {
      std::time_t t = std::time(nullptr);
      std::tm local{};
      localtime_r(&t, &local);
      const int now = local.tm_hour * 60 + local.tm_min;
      return from < to ? (now >= from && now < to) : (now >= from || now < to);
    };
  }
  return o;
}

}  // namespace

BrokerService::BrokerService(boost::asio::io_context& control, config::LabConfig config,
                             std::shared_ptr<spdlog::logger> log)
    : config_(std::move(config)), log_(std::move(log)), sweep_(control), rebalance_timer_(control) {}

BrokerService::~BrokerService() { stop(); }

Extensions BrokerService::extensions() {
  Extensions e;
  auto m = broker_migrations();
  e.migrations.assign(m.begin(), m.end());
  e.attach = [this](Store& store, broker::ForwardPort& forwards) { attach(store, forwards); };
  e.routes = [this](http::Router& lab, http::Router& admin) {
    api_->add_client_routes(lab);
    api_->add_admin_routes(admin);
  };
  e.started = [this] { started(); };
  return e;
}

void BrokerService::attach(Store& store, broker::ForwardPort& forwards) {
  sessions_ = std::make_unique<SqliteSessionStore>(store);
  users_ = std::make_unique<SqliteUserStore>(store);
  std::vector<broker::HostSpec> specs;
  std::vector<std::unique_ptr<broker::AgentPort>> agents;
  for (const auto& h : config_.hosts) {
    specs.push_back({h.name, h.capacity_mib, h.reserved_mib});
    if (h.agent_url.empty()) {
      log_->warn("host '{}' has no agent_url: no desktops will be placed there", h.name);
      agents.push_back(std::make_unique<NoAgent>(h.name));
      continue;
    }
    http::ClientOptions opt;
    opt.bearer_token = h.token_file.empty() ? "" : read_token_file(h.token_file);
    opt.timeout = std::chrono::milliseconds(3000);  // a load query slower than this marks the host suspect
    agents.push_back(std::make_unique<agents::HttpAgent>(h.agent_url, opt));
  }
  hosts_ = std::make_unique<broker::HostTable>(std::move(specs), std::move(agents), clock_);
  broker::BrokerOptions bo;
  bo.lab_address = config_.lab.address.substr(0, config_.lab.address.find('/'));
  bo.first_lab_port = static_cast<int>(config_.nat.port_min);
  bo.port_count = static_cast<int>(config_.nat.port_max - config_.nat.port_min + 1);
  bo.image = config_.desktops.image;
  bo.policy = config::planner_policy(config_);
  bo.grace = std::chrono::seconds(config_.tiers.grace_seconds);
  bo.vnc_ready_timeout = std::chrono::seconds(config_.desktops.vnc_ready_seconds);
  bo.shared_data = config_.desktops.data == "shared";
  bo.rebalance = rebalance_options(config_.rebalance);
  broker_ = std::make_unique<broker::Broker>(bo, *hosts_, forwards, probe_, *sessions_, clock_, log_);
  auth_ = std::make_unique<broker::Authenticator>(*users_, clock_);
  broker::ApiOptions ao;
  ao.console_tls = config_.desktops.console_tls;
  api_ = std::make_unique<broker::BrokerApi>(api_io_, *broker_, *auth_, *users_, log_, ao);
  api_work_ = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(api_io_.get_executor());
  api_thread_ = std::thread([this] { api_io_.run(); });
}

void BrokerService::started() {
  if (auto r = broker_->reconcile(); !r) {
    log_->error("reconciliation with the agents failed: {} (sessions kept; retried on the next start)", r.error().message);
  }
  watcher_ = std::make_unique<agents::EventWatcher>(*broker_, *hosts_);
  watcher_->start();
  schedule_sweep();
  schedule_rebalance();
  log_->info("broker up: {} hosts, {} sessions restored", hosts_->size(), broker_->sessions().size());
}

void BrokerService::schedule_rebalance() {
  if (!config_.rebalance.enabled) return;
  rebalance_timer_.expires_after(std::chrono::seconds(config_.rebalance.interval_seconds));
  rebalance_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    // A migration takes seconds: on a thread of its own, so the sweep (a dead host noticed
    // within seconds) never waits for it.
    if (!rebalancing_.exchange(true)) {
      boost::asio::post(rebalance_pool_, [this] {
        try {
          if (auto did = broker_->rebalance(); !did.empty()) log_->info("rebalance: {}", did);
        } catch (const std::exception& e) {
          log_->error("rebalance failed, retried next round: {}", e.what());
        }
        rebalancing_ = false;
      });
    }
    schedule_rebalance();
  });
}

void BrokerService::schedule_sweep() {
  // Every 2 s: a dead host is marked down after two missed answers (HostTable), so its users
  // are re-placed within seconds.
  sweep_.expires_after(std::chrono::seconds(2));
  sweep_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    // Grace expiry destroys desktops (agent calls): neither on the control loop nor on the
    // long-polls' thread.
    if (!sweeping_.exchange(true)) {
      boost::asio::post(sweep_pool_, [this] {
        try {
          broker_->watch_hosts();
          broker_->sweep();
        } catch (const std::exception& e) {
          log_->error("sweep failed, retried in 2 s: {}", e.what());
        }
        sweeping_ = false;
      });
    }
    schedule_sweep();
  });
}

void BrokerService::stop() {
  stopping_ = true;
  sweep_.cancel();
  rebalance_timer_.cancel();
  if (watcher_) watcher_->stop();
  sweep_pool_.join();
  rebalance_pool_.join();
  api_work_.reset();
  api_io_.stop();
  if (api_thread_.joinable()) api_thread_.join();
}

}  // namespace labdesk::boot
