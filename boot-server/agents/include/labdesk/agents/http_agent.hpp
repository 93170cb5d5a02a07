// The broker's AgentPort over the agent's HTTP API (docs/api/agent.md), and a VNC readiness probe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "labdesk/broker/ports.hpp"
#include "labdesk/http/client.hpp"

namespace labdesk::agents {

class HttpAgent final : public broker::AgentPort {
 public:
  HttpAgent(const std::string& base_url, http::ClientOptions options);

  Result<api::agent::LoadReport> load() override;
  Result<std::vector<api::agent::Desktop>> list() override;
  Result<api::agent::Desktop> create(const api::agent::CreateDesktop& spec) override;
  Result<void> destroy(const std::string& desktop) override;
  Result<api::agent::Desktop> attach_data(const std::string& desktop) override;
  Result<api::agent::MemoryReport> resize(const std::string& desktop, std::int64_t mib) override;
  Result<api::agent::Vnc> console_password(const std::string& desktop, std::chrono::seconds valid_for) override;
  Result<api::agent::RetiredData> retire_data(const std::string& user, const std::string& mode) override;
  Result<api::agent::EventBatch> events(std::uint64_t after, std::chrono::seconds wait) override;
  Result<api::agent::MigrationTarget> prepare_incoming(const api::agent::IncomingMigration& in) override;
  Result<api::agent::MigrationReport> migrate(const std::string& desktop, const api::agent::MigrationTarget& to) override;
  Result<api::agent::Arrival> finish_incoming(const std::string& desktop, std::chrono::milliseconds wait = {}) override;

 private:
  template <typename T>
  Result<T> call(const std::string& method, const std::string& target, const nlohmann::json& body,
                 std::chrono::milliseconds timeout);
  std::unique_ptr<http::Client> take();
  void give_back(std::unique_ptr<http::Client> c);

  std::string base_url_;
  http::ClientOptions options_;
  // Keep-alive connections, one per request in flight (at most kMaxConnections): a desktop start
  // that takes two minutes never holds up the load query the next login's placement needs.
  static constexpr std::size_t kMaxConnections = 8;
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<http::Client>> idle_;
  std::size_t made_ = 0;
  std::mutex events_mu_;  // the events long-poll has its own connection
  http::Client events_client_;
  std::chrono::milliseconds default_timeout_;
};

// Waits for an RFB greeting ("RFB 003.00x\n") on host:port, retrying connects until the timeout.
class RfbProbe final : public broker::VncProbe {
 public:
  bool wait_ready(const std::string& host, int port, std::chrono::milliseconds timeout) override;
};

}  // namespace labdesk::agents
