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
  // Open connections allowed at once, in all and from one source address (0: no limit). A
  // connection past a limit is closed at once; the listener keeps serving everyone else.
  std::size_t max_connections = 0;
  std::size_t max_connections_per_source = 0;
  // How long accepting pauses when the process is out of file descriptors (EMFILE): without it the
  // acceptor spins on the same error with the whole CPU.
  std::chrono::milliseconds accept_backoff{100};
  // The longest an async route (long-poll, login, desktop start) may take before the client gets
  // a 504: a handler that never answers must not hold the connection for ever.
  std::chrono::seconds async_deadline{180};
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

  // Answers one request as a connection would (the same router, token and containment), without
  // a socket: the fuzz targets drive each daemon's real router through this.
  Response answer(Request& req, std::chrono::milliseconds wait = std::chrono::seconds(5));

  // Swaps the bearer token (config reload); takes effect for the next request.
  void set_token(std::string token);

  struct Impl;  // public only so the connection sessions in server.cpp can name it

 private:
  struct Workers;  // outside Impl: connections hold Impl, and the loops must outlive them
  std::shared_ptr<Impl> impl_;
  std::unique_ptr<Workers> workers_;
};

// Wraps a task that answers through `reply` from a worker pool: an exception becomes the error
// answer (a labdesk::Failure its own, anything else a 500) instead of ending the pool's thread,
// and with it the daemon. A reply already sent wins (Reply answers once).
template <class Task>
auto guarded(Reply reply, std::shared_ptr<spdlog::logger> log, Task task) {
  return [reply = std::move(reply), log = std::move(log), task = std::move(task)]() mutable {
    try {
      task();
    } catch (const Failure& e) {
      reply(Response::error(e.error()));
    } catch (const std::exception& e) {
      log->error("background task failed: {}", e.what());
      reply(Response::error("internal", "internal error while handling the request", 500));
    }
  };
}

// One request answered as the server answers it, without a socket: the same routing, token check,
// handler call and containment of exceptions (fuzzing and tests). An async route's answer is
// waited for up to `wait`, else 504.
Response answer_in_process(const Router& router, Request& req, const std::string& token, spdlog::logger& log,
                           std::chrono::milliseconds wait);

// One HTTP/1.1 request parsed from bytes as the server parses them; nullopt where the server
// would refuse it as malformed or too large.
std::optional<Request> parse_request(std::string_view bytes, std::size_t max_body_bytes, std::string remote);

// 429 with Retry-After: a bounded queue is full; the client tries again later.
Response busy(const std::string& what, int retry_after_s = 1);

// Compares secrets in time independent of where they differ.
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace labdesk::http
