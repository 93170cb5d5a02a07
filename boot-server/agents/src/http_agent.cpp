#include "labdesk/agents/http_agent.hpp"

#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>

namespace labdesk::agents {

HttpAgent::HttpAgent(const std::string& base_url, http::ClientOptions options)
    : base_url_(base_url), options_(options), events_client_(base_url, options), default_timeout_(options.timeout) {
  idle_.push_back(std::make_unique<http::Client>(base_url_, options_));  // a bad URL fails here, at start
  made_ = 1;
}

std::unique_ptr<http::Client> HttpAgent::take() {
  std::unique_lock lock(pool_mu_);
  pool_cv_.wait(lock, [&] { return !idle_.empty() || made_ < kMaxConnections; });
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  ++made_;
  lock.unlock();
  return std::make_unique<http::Client>(base_url_, options_);
}

void HttpAgent::give_back(std::unique_ptr<http::Client> c) {
  std::lock_guard lock(pool_mu_);
  idle_.push_back(std::move(c));
  pool_cv_.notify_one();
}

template <typename T>
Result<T> HttpAgent::call(const std::string& method, const std::string& target,
                          const nlohmann::json& body, std::chrono::milliseconds timeout) {
  auto client = take();
  client->set_timeout(timeout);
  auto r = client->send_json(method, target, body);
  client->set_timeout(default_timeout_);
  give_back(std::move(client));
  if (!r) return std::unexpected(r.error());
  try {
    return r->template get<T>();
  } catch (const std::exception& e) {
    return fail("bad_agent_answer", "agent answered '" + target + "' with unexpected JSON: " + e.what(), 502);
  }
}

Result<api::agent::LoadReport> HttpAgent::load() {
  return call<api::agent::LoadReport>("GET", "/v1/load", nullptr, default_timeout_);
}

Result<std::vector<api::agent::Desktop>> HttpAgent::list() {
  return call<std::vector<api::agent::Desktop>>("GET", "/v1/desktops", nullptr, default_timeout_);
}

Result<api::agent::Desktop> HttpAgent::create(const api::agent::CreateDesktop& spec) {
  // Creating copies an overlay and starts QEMU: far slower than a load query.
  return call<api::agent::Desktop>("POST", "/v1/desktops", spec, std::chrono::seconds(120));
}

Result<void> HttpAgent::destroy(const std::string& desktop) {
  auto r = call<nlohmann::json>("DELETE", "/v1/desktops/" + desktop, nullptr, std::chrono::seconds(60));
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<api::agent::Desktop> HttpAgent::attach_data(const std::string& desktop) {
  return call<api::agent::Desktop>("POST", "/v1/desktops/" + desktop + "/data", nlohmann::json::object(),
                                   std::chrono::seconds(30));
}

Result<api::agent::MemoryReport> HttpAgent::resize(const std::string& desktop, std::int64_t mib) {
  return call<api::agent::MemoryReport>("POST", "/v1/desktops/" + desktop + "/memory",
                                        api::agent::ResizeMemory{mib}, std::chrono::seconds(30));
}

Result<api::agent::Vnc> HttpAgent::console_password(const std::string& desktop, std::chrono::seconds valid_for) {
  return call<api::agent::Vnc>("POST", "/v1/desktops/" + desktop + "/console",
                               api::agent::ConsolePassword{valid_for.count()}, default_timeout_);
}

Result<api::agent::RetiredData> HttpAgent::retire_data(const std::string& user, const std::string& mode) {
  return call<api::agent::RetiredData>("POST", "/v1/users/" + user + "/data/retire", api::agent::RetireData{mode},
                                       default_timeout_);
}

Result<api::agent::MigrationTarget> HttpAgent::prepare_incoming(const api::agent::IncomingMigration& in) {
  return call<api::agent::MigrationTarget>("POST", "/v1/migrations", in, std::chrono::seconds(60));
}

Result<api::agent::MigrationReport> HttpAgent::migrate(const std::string& desktop, const api::agent::MigrationTarget& to) {
  // The agent answers when the migration ends: its own migration.timeout_seconds (at most an hour)
  // bounds it; this only guards against an agent that never answers.
  return call<api::agent::MigrationReport>("POST", "/v1/desktops/" + desktop + "/migrate", api::agent::MigrateDesktop{to},
                                           std::chrono::seconds(3700));
}

Result<api::agent::Arrival> HttpAgent::finish_incoming(const std::string& desktop, std::chrono::milliseconds wait) {
  return call<api::agent::Arrival>("POST", "/v1/migrations/" + desktop + "/finish?wait_ms=" + std::to_string(wait.count()),
                                   nlohmann::json::object(), std::chrono::seconds(60) + wait);
}

Result<api::agent::EventBatch> HttpAgent::events(std::uint64_t after, std::chrono::seconds wait) {
  std::lock_guard lock(events_mu_);
  events_client_.set_timeout(std::chrono::duration_cast<std::chrono::milliseconds>(wait) + default_timeout_);
  auto r = events_client_.get_json("/v1/events?after=" + std::to_string(after) + "&wait=" + std::to_string(wait.count()));
  if (!r) return std::unexpected(r.error());
  try {
    return r->get<api::agent::EventBatch>();
  } catch (const std::exception& e) {
    return fail("bad_agent_answer", std::string("agent answered /v1/events with unexpected JSON: ") + e.what(), 502);
  }
}

namespace {

// One attempt: connect and read the 12-byte protocol version within `budget`.
bool greets(const std::string& host, int port, std::chrono::milliseconds budget) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  asio::steady_timer timer(io, budget);
  std::array<char, 12> buf{};
  bool ok = false;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return false;
  timer.async_wait([&](boost::system::error_code e) {
    if (!e) sock.close();
  });
  sock.async_connect({addr, static_cast<unsigned short>(port)}, [&](boost::system::error_code e) {
    if (e) {
      timer.cancel();
      return;
    }
    asio::async_read(sock, asio::buffer(buf), [&](boost::system::error_code e2, std::size_t) {
      ok = !e2 && std::string(buf.data(), 4) == "RFB ";
      timer.cancel();
    });
  });
  io.run();
  return ok;
}

}  // namespace

bool RfbProbe::wait_ready(const std::string& host, int port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (greets(host, port, std::chrono::milliseconds(1000))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace labdesk::agents
