// The whole agent wired together (what main runs, and what in-process tests run): libvirt event
// loop and connection, storage, desktops, load sampler, events and the HTTP server.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <spdlog/logger.h>

#include "labdesk/agent/config.hpp"
#include "labdesk/agent/desktops.hpp"
#include "labdesk/agent/events.hpp"
#include "labdesk/agent/libvirt.hpp"
#include "labdesk/agent/load.hpp"
#include "labdesk/agent/storage.hpp"
#include "labdesk/http/server.hpp"

namespace labdesk::agent {

inline constexpr const char* kVersion = "0.1.0";

class Agent {
 public:
  // The event loop is passed in: libvirt allows one per process.
  Agent(EventLoop& loop, AgentConfig cfg, std::string token, boost::asio::io_context& io,
        std::shared_ptr<spdlog::logger> log);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Prepares directories, connects to libvirt (rebuilding state), binds the API.
  void start();
  // SIGHUP: new token and image catalog; other changed keys are logged as needing a restart.
  void reload(const AgentConfig& cfg, std::string token);
  // SIGTERM: stop accepting, answer parked long-polls. VMs keep running.
  void drain();

  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] api::agent::Health health() const;
  Desktops& desktops() { return desktops_; }
  Libvirt& libvirt() { return libvirt_; }
  LoadSampler& load() { return load_; }
  EventLog& events() { return events_; }
  // The API server (its router answers in-process requests too: the fuzz target uses that).
  http::Server& server() { return server_; }

 private:
  std::shared_ptr<const AgentConfig> cfg_;
  std::shared_ptr<spdlog::logger> log_;
  Storage storage_;
  EventLog events_;
  Desktops desktops_;
  Libvirt libvirt_;
  LoadSampler load_;
  http::Server server_;
};

}  // namespace labdesk::agent
