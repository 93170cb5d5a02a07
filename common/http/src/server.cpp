#include "labdesk/http/server.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/crypto.h>

#include "labdesk/common/text.hpp"

namespace labdesk::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Length is not secret (tokens have a fixed size); the contents are.
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Response busy(const std::string& what, int retry_after_s) {
  Response r = Response::error("busy", what + " is full: try again in " + std::to_string(retry_after_s) + " s", 429);
  r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  return r;
}

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io_, ServerOptions o, Router r, std::shared_ptr<spdlog::logger> l)
      : io(io_), opt(std::move(o)), router(std::move(r)), log(std::move(l)),
        acceptor(asio::make_strand(io_)), token(opt.bearer_token) {}

  asio::io_context& io;
  ServerOptions opt;
  Router router;
  std::shared_ptr<spdlog::logger> log;
  tcp::acceptor acceptor;
  std::optional<asio::ssl::context> ssl;
  std::mutex token_mu;
  std::string token;
  std::vector<asio::io_context*> loops;  // the server's own event loops (io_threads), if any
  std::size_t next_loop = 0;              // only touched on the acceptor's strand
  std::atomic<bool> stopped{false};
  std::mutex conn_mu;
  std::size_t open_connections = 0;
  std::unordered_map<std::string, std::size_t> per_source;  // bounded: one entry per open source
  std::optional<asio::steady_timer> backoff;                // on the acceptor's strand

  bool admit(const std::string& remote);
  void release(const std::string& remote);

  // A connection's executor: one of the server's own single-threaded loops in turn (a loop run
  // by one thread needs no strand), else a strand of the shared io_context.
  asio::any_io_executor connection_executor() {
    if (loops.empty()) return asio::make_strand(io);
    return loops[next_loop++ % loops.size()]->get_executor();
  }
  tcp::socket to_connection_loop(tcp::socket sock);
  void accept();
  void pause_accepting(const beast::error_code& ec);
  void start_session(tcp::socket sock);
  Response dispatch_sync(const Route& r, const Request& req);
  std::optional<Response> check(Request& req, const Route*& route);
};

namespace {

Request to_request(bhttp::request<bhttp::string_body>&& m, std::string remote) {
  Request r;
  r.method = std::string(m.method_string());
  r.target = std::string(m.target());
  auto q = r.target.find('?');
  r.path = url_decode(std::string_view(r.target).substr(0, q));
  if (q != std::string::npos) r.query = parse_query(std::string_view(r.target).substr(q + 1));
  for (const auto& f : m) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(f.value());
  }
  r.body = std::move(m.body());
  r.remote_address = std::move(remote);
  return r;
}

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream&& s, std::shared_ptr<Server::Impl> srv, std::string remote)
      : stream_(std::move(s)), srv_(std::move(srv)), remote_(std::move(remote)), deadline_(stream_.get_executor()) {}
  ~Session() { srv_->release(remote_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      read();
    } else {
      beast::get_lowest_layer(stream_).expires_after(srv_->opt.read_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->read();
                              });
    }
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(srv_->opt.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(srv_->opt.read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_read(ec);
                      });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof) return close();
    if (ec == bhttp::error::body_limit) {
      return send(Response::error("body_too_large",
                                  "request body is larger than " +
                                      std::to_string(srv_->opt.max_body_bytes) + " bytes",
                                  413),
                  false);
    }
    if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
      return send(Response::error("bad_http", "malformed HTTP request: " + ec.message(), 400),
                  false);
    }
    if (ec) return close();
    keep_alive_ = parser_->get().keep_alive();
    head_ = parser_->get().method() == bhttp::verb::head;
    // The request boundary: nothing a client sends may escape as an exception into the event
    // loop, which would end the daemon (and, for the boot-server, the whole lab's DHCP).
    try {
      answer(to_request(parser_->release(), remote_));
    } catch (const std::exception& e) {
      srv_->log->error("request from '{}' failed: {}", remote_, e.what());
      send(Response::error("internal", "internal error while handling the request", 500), false);
    }
  }

  void answer(Request req) {
    const Route* route = nullptr;
    if (auto early = srv_->check(req, route)) return send(std::move(*early), keep_alive_);
    if (route->handler) return send(srv_->dispatch_sync(*route, req), keep_alive_);
    // Long-poll: no read timeout while the handler holds the request, but a deadline.
    beast::get_lowest_layer(stream_).expires_never();
    auto once = std::make_shared<std::atomic<bool>>(false);
    Reply reply = [self = this->shared_from_this(), once](Response r) {
      if (once->exchange(true)) return;
      asio::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable {
        self->deadline_.cancel();
        try {
          self->send(std::move(r), self->keep_alive_);
        } catch (const std::exception& e) {
          self->srv_->log->error("answer to '{}' failed: {}", self->remote_, e.what());
          self->close();
        }
      });
    };
    deadline_.expires_after(srv_->opt.async_deadline);
    deadline_.async_wait([reply, secs = srv_->opt.async_deadline.count()](const beast::error_code& ec) {
      if (!ec) reply(Response::error("timeout", "no answer within " + std::to_string(secs) + " s: try again", 504));
    });
    try {
      route->async_handler(req, reply);
    } catch (const Failure& e) {
      reply(Response::error(e.error()));
    } catch (const std::exception& e) {
      srv_->log->error("handler for '{}' threw: {}", printable(req.path), e.what());
      reply(Response::error("internal", "internal error while handling the request", 500));
    }
  }

  template <class Body>
  void write(std::shared_ptr<bhttp::response<Body>> res) {
    res_ = res;
    beast::get_lowest_layer(stream_).expires_after(srv_->opt.read_timeout);
    bhttp::async_write(stream_, *res,
                       [self = this->shared_from_this(), keep = res->keep_alive()](
                           beast::error_code ec, std::size_t) {
                         self->res_.reset();
                         if (ec || !keep) return self->close();
                         // Read at once: a read that finds its data already there is still
                         // completed through the back of the queue, behind work already waiting
                         // (Asio posts it), so this is fair. An extra post here cost a strand
                         // round trip per request (-35 % requests/s) and, at saturation, left
                         // clients waiting 200 ms on the server (measured on the wire).
                         self->read();
                       });
  }

  template <class Res>
  void fill(Res& res, const Response& r, bool keep_alive) {
    res.result(static_cast<unsigned>(r.status));
    res.set(bhttp::field::server, srv_->opt.server_name);
    res.set(bhttp::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep_alive);
  }

  void send(Response r, bool keep_alive) {
    if (r.file) {
      bhttp::file_body::value_type body;
      beast::error_code ec;
      body.open(r.file->c_str(), beast::file_mode::scan, ec);
      if (ec) {
        r = Response::error("not_found", "file '" + *r.file + "' cannot be read", 404);
      } else {
        auto res = std::make_shared<bhttp::response<bhttp::file_body>>();
        fill(*res, r, keep_alive);
        auto size = body.size();
        if (!head_) res->body() = std::move(body);
        res->content_length(size);
        return head_ ? write_head(res) : write(res);
      }
    }
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    fill(*res, r, keep_alive);
    auto size = r.body.size();
    if (!head_) res->body() = std::move(r.body);
    res->content_length(size);
    write(res);
  }

  void write_head(std::shared_ptr<bhttp::response<bhttp::file_body>> res) {
    // HEAD: headers only; the file stays closed.
    auto empty = std::make_shared<bhttp::response<bhttp::empty_body>>();
    empty->base() = res->base();
    write(empty);
  }

  void close() {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  Stream stream_;
  std::shared_ptr<Server::Impl> srv_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<void> res_;
  bool keep_alive_ = true;
  bool head_ = false;
  asio::steady_timer deadline_;  // of the async route in progress
};

}  // namespace

namespace {

// Routing and the token check, shared by the server and answer_in_process.
std::optional<Response> route_request(const Router& router, Request& req, const std::string& token,
                                      const Route*& route) {
  auto m = router.match(req);
  if (!m.route) {
    if (m.path_known) {
      return Response::error("method_not_allowed",
                             "method '" + printable(req.method) + "' is not allowed on '" + printable(req.path) + "'", 405);
    }
    return Response::error("not_found", "no such resource '" + printable(req.path) + "'", 404);
  }
  route = m.route;
  if (route->auth == Auth::required && !token.empty()) {
    std::string got = req.header("authorization");
    const std::string prefix = "Bearer ";
    if (!got.starts_with(prefix) || !constant_time_equal(got.substr(prefix.size()), token)) {
      Response r = Response::error("unauthorized",
                                   "missing or wrong bearer token: send 'Authorization: Bearer <token>'",
                                   401);
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
  }
  return std::nullopt;
}

Response call_handler(const Route& r, const Request& req, spdlog::logger& log) {
  try {
    return r.handler(req);
  } catch (const Failure& e) {
    return Response::error(e.error());
  } catch (const std::exception& e) {
    log.error("handler for '{}' threw: {}", printable(req.path), e.what());
    return Response::error("internal", "internal error while handling the request", 500);
  }
}

}  // namespace

std::optional<Response> Server::Impl::check(Request& req, const Route*& route) {
  std::string expected;
  {
    std::lock_guard lock(token_mu);
    expected = token;
  }
  return route_request(router, req, expected, route);
}

Response Server::Impl::dispatch_sync(const Route& r, const Request& req) { return call_handler(r, req, *log); }

Response answer_in_process(const Router& router, Request& req, const std::string& token, spdlog::logger& log,
                           std::chrono::milliseconds wait) {
  try {
    const Route* route = nullptr;
    if (auto early = route_request(router, req, token, route)) return *early;
    if (route->handler) return call_handler(*route, req, log);
    struct Slot {
      std::mutex mu;
      std::condition_variable cv;
      std::optional<Response> answer;
    };
    auto slot = std::make_shared<Slot>();
    Reply reply = [slot](Response r) {
      std::lock_guard lock(slot->mu);
      if (!slot->answer) slot->answer = std::move(r);
      slot->cv.notify_all();
    };
    try {
      route->async_handler(req, reply);
    } catch (const Failure& e) {
      reply(Response::error(e.error()));
    }
    std::unique_lock lock(slot->mu);
    if (!slot->cv.wait_for(lock, wait, [&] { return slot->answer.has_value(); })) {
      return Response::error("timeout", "no answer within " + std::to_string(wait.count()) + " ms", 504);
    }
    return *slot->answer;
  } catch (const std::exception& e) {
    log.error("request failed: {}", e.what());
    return Response::error("internal", "internal error while handling the request", 500);
  }
}

std::optional<Request> parse_request(std::string_view bytes, std::size_t max_body_bytes, std::string remote) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(max_body_bytes);
  parser.eager(true);
  beast::error_code ec;
  std::size_t used = parser.put(asio::buffer(bytes.data(), bytes.size()), ec);
  if (!ec && !parser.is_done() && used == bytes.size()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return std::nullopt;
  return to_request(parser.release(), std::move(remote));
}

bool Server::Impl::admit(const std::string& remote) {
  std::lock_guard lock(conn_mu);
  if (opt.max_connections && open_connections >= opt.max_connections) return false;
  auto& mine = per_source[remote];
  if (opt.max_connections_per_source && mine >= opt.max_connections_per_source) return false;
  ++mine;
  ++open_connections;
  return true;
}

void Server::Impl::release(const std::string& remote) {
  std::lock_guard lock(conn_mu);
  --open_connections;
  if (auto it = per_source.find(remote); it != per_source.end() && --it->second == 0) per_source.erase(it);
}

void Server::Impl::start_session(tcp::socket sock) {
  beast::error_code ignored;
  auto ep = sock.remote_endpoint(ignored);
  std::string remote = ignored ? "" : ep.address().to_string();
  if (!admit(remote)) {
    log->debug("connection from '{}' refused: connection limit reached", remote);
    sock.close(ignored);
    return;
  }
  // Answers are small and the client waits for each: no Nagle delay behind its delayed ACK
  // (as nginx's tcp_nodelay).
  sock.set_option(tcp::no_delay(true), ignored);
  // The connection starts on its own executor: from here on only its loop (or strand) touches it.
  auto ex = sock.get_executor();
  if (ssl) {
    auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
        beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(sock)), *ssl),
        shared_from_this(), remote);
    asio::post(ex, [s] { s->run(); });
  } else {
    auto s = std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(sock)),
                                                          shared_from_this(), remote);
    asio::post(ex, [s] { s->run(); });
  }
}

// The asynchronous accept's socket belongs to the owner's io_context, never to one of the
// server's loops: an accept completed but not yet run when the owner stops its io_context stays
// queued there until that io_context is destroyed, after the server and its loops (ASan saw the
// queued socket reach into a destroyed loop). Its descriptor moves to a loop once it runs.
tcp::socket Server::Impl::to_connection_loop(tcp::socket sock) {
  if (loops.empty()) return sock;
  beast::error_code ec;
  auto protocol = sock.local_endpoint(ec).protocol();
  if (ec) return sock;  // already reset by the peer: the session's first read says so
  auto fd = sock.release(ec);
  if (ec) return sock;
  tcp::socket moved(connection_executor());
  moved.assign(protocol, fd, ec);
  if (ec) ::close(fd);  // the session sees a closed socket and ends
  return moved;
}

void Server::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](
                                                   beast::error_code ec, tcp::socket sock) {
    if (ec == asio::error::operation_aborted || self->stopped) return;
    if (ec) return self->pause_accepting(ec);
    self->start_session(self->to_connection_loop(std::move(sock)));
    // Take every connection already waiting, not one per pass of the event loop: behind
    // thousands of queued reads and writes, one accept per pass left clients that had connected
    // at once waiting a second for their first answer.
    for (int i = 0; i < 256 && self->acceptor.is_open() && !self->stopped; ++i) {
      tcp::socket more(self->connection_executor());
      beast::error_code again;
      self->acceptor.accept(more, again);
      if (again == asio::error::would_block || again == asio::error::try_again) break;
      if (again) return self->pause_accepting(again);
      self->start_session(std::move(more));
    }
    if (self->acceptor.is_open() && !self->stopped) self->accept();
  });
}

void Server::Impl::pause_accepting(const beast::error_code& ec) {
  // Out of descriptors (or buffers): the pending connection stays in the backlog; try again later.
  log->warn("cannot accept a connection: {}; pausing {} ms", ec.message(), opt.accept_backoff.count());
  if (!backoff) backoff.emplace(acceptor.get_executor());
  backoff->expires_after(opt.accept_backoff);
  backoff->async_wait([self = shared_from_this()](const beast::error_code& wec) {
    if (!wec && self->acceptor.is_open() && !self->stopped) self->accept();
  });
}

struct Server::Workers {
  std::vector<std::unique_ptr<asio::io_context>> loops;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::mutex mu;  // stop() and halt() may come from other threads than the owner's
};

Server::Server(asio::io_context& io, ServerOptions options, Router router,
               std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(router), std::move(log))),
      workers_(std::make_unique<Workers>()) {}

Server::~Server() {
  stop();
  halt();
  join();
  impl_->loops.clear();
  workers_.reset();  // destroys what the loops still hold: connections, and their refs to impl_
}

void Server::halt() {
  std::lock_guard lock(workers_->mu);
  for (auto& l : workers_->loops) l->stop();
}

void Server::join() {
  for (auto& t : workers_->threads) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
}

void Server::start() {
  auto& o = impl_->opt;
  if (o.tls) {
    impl_->ssl.emplace(asio::ssl::context::tls_server);
    try {
      impl_->ssl->use_certificate_chain_file(o.tls->certificate_chain);
      impl_->ssl->use_private_key_file(o.tls->private_key, asio::ssl::context::pem);
    } catch (const std::exception& e) {
      throw Failure(Error{"bad_tls", "cannot load TLS certificate '" + o.tls->certificate_chain +
                                         "' or key '" + o.tls->private_key + "': " + e.what(),
                          500});
    }
  }
  beast::error_code ec;
  auto addr = asio::ip::make_address(o.address, ec);
  if (ec) throw Failure(Error{"bad_address", "cannot listen on '" + o.address + "': not an IP address", 500});
  tcp::endpoint ep(addr, o.port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) a.non_blocking(true, ec);  // accept() in the accept handler drains the queue
  if (ec) {
    throw Failure(Error{"listen_failed", "cannot listen on '" + o.address + ":" +
                                             std::to_string(o.port) + "': " + ec.message(), 500});
  }
  {
    std::lock_guard lock(workers_->mu);
    for (std::size_t i = 0; i < o.io_threads; ++i) {
      auto& loop = workers_->loops.emplace_back(std::make_unique<asio::io_context>(1));
      workers_->guards.push_back(asio::make_work_guard(*loop));
      impl_->loops.push_back(loop.get());
    }
    for (auto& loop : workers_->loops) {
      workers_->threads.emplace_back([l = loop.get()] { l->run(); });
    }
  }
  impl_->accept();
}

void Server::stop() {
  impl_->stopped = true;
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    if (impl->backoff) impl->backoff->cancel();
  });
  std::lock_guard lock(workers_->mu);
  workers_->guards.clear();  // each loop ends when its last connection has
}

Response Server::answer(Request& req, std::chrono::milliseconds wait) {
  std::string token;
  {
    std::lock_guard lock(impl_->token_mu);
    token = impl_->token;
  }
  return answer_in_process(impl_->router, req, token, *impl_->log, wait);
}

std::uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::set_token(std::string token) {
  std::lock_guard lock(impl_->token_mu);
  impl_->token = std::move(token);
}

}  // namespace labdesk::http
