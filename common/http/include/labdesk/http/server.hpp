// A small HTTP/1.1 server on Boost.Beast: keep-alive, body limits, timeouts, bearer-token auth
// with a constant-time compare, optional TLS, one JSON error shape, exceptions caught per request.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <spdlog/logger.h>

#include "labdesk/http/router.hpp"

namespace labdesk::http {

struct TlsFiles {
  std::string certificate_chain;  // PEM
  std::string private_key;        // PEM
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (see Server::port)
  std::size_t max_body_bytes = 1 << 20;
  std::chrono::seconds read_timeout{30};
  std::string bearer_token;  // empty: no auth on any route
  std::optional<TlsFiles> tls;
  std::string server_name = "labdesk";
  // 0: connections run on strands of the io_context given to the server. N: the server runs its
  // connections on N event loops of its own, one thread each (nginx's worker model): with
  // thousands of busy connections, one event loop shared by several threads served some of them
  // hundreds of milliseconds late while it was saturated.
  std::size_t io_threads = 0;
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, Router router,
         std::shared_ptr<spdlog::logger> log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting; throws labdesk::Failure if the address cannot be bound.
  void start();
  // Stops accepting; open connections finish their current request. The server's own event
  // loops (io_threads) end once their connections have.
  void stop();
  // Ends the server's own event loops now, open connections with them (after a drain's grace).
  void halt();
  // Waits for the server's own event loops to end (after stop() or halt()).
  void join();
  [[nodiscard]] std::uint16_t port() const;

  // Swaps the bearer token (config reload); takes effect for the next request.
  void set_token(std::string token);

  struct Impl;  // public only so the connection sessions in server.cpp can name it

 private:
  struct Workers;  // outside Impl: connections hold Impl, and the loops must outlive them
  std::shared_ptr<Impl> impl_;
  std::unique_ptr<Workers> workers_;
};

// Compares secrets in time independent of where they differ.
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace labdesk::http
