// The HTTP plumbing against itself over loopback sockets (no fakes needed: it is all ours).
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "labdesk/common/log.hpp"
#include "labdesk/http/client.hpp"
#include "labdesk/http/server.hpp"

using namespace labdesk;
using namespace labdesk::http;
using nlohmann::json;

namespace {

class TestServer {
 public:
  explicit TestServer(Router router, ServerOptions opt = {}) {
    opt.bearer_token = opt.bearer_token.empty() ? "s3cret-token" : opt.bearer_token;
    server_ = std::make_unique<Server>(io_, opt, std::move(router), log::make_logger("http-test", spdlog::level::off));
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    server_->stop();
    io_.stop();
    thread_.join();
  }
  std::string url(bool tls = false) const {
    return std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(server_->port());
  }
  Server& server() { return *server_; }
  std::uint16_t port() const { return server_->port(); }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

std::vector<Reply> parked;  // replies that never come: the client must time out

Router demo_router() {
  Router r;
  r.add("GET", "/v1/hello/{name}", [](const Request& req) {
    return Response::json({{"hello", req.params.at("name")}, {"q", req.query_or("q", "")}});
  });
  r.add("POST", "/v1/echo", [](const Request& req) {
    auto j = req.json();
    if (!j) return Response::error(j.error());
    return Response::json(*j, 201);
  });
  r.add("GET", "/v1/boom", [](const Request&) -> Response { throw std::runtime_error("kaboom"); });
  r.add("GET", "/v1/conflict", [](const Request&) -> Response {
    throw Failure(Error{"busy", "desktop 'x' is busy", 409});
  });
  r.add("GET", "/health", [](const Request&) { return Response::json({{"ok", true}}); }, Auth::none);
  r.add_async("GET", "/v1/later", [](const Request& req, Reply reply) {
    int ms = std::stoi(req.query_or("ms", "50"));
    if (ms < 0) {
      parked.push_back(reply);
      return;
    }
    std::thread([reply, ms] {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      reply(Response::json({{"waited_ms", ms}}));
    }).detach();
  });
  return r;
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::system::error_code ec;
  boost::asio::write(s, boost::asio::buffer(bytes), ec);  // a refused connection may be reset first
  std::string out;
  std::array<char, 4096> buf{};
  for (;;) {
    auto n = s.read_some(boost::asio::buffer(buf), ec);
    out.append(buf.data(), n);
    if (ec) break;
  }
  return out;
}

}  // namespace

TEST_CASE("routes, params, query and JSON bodies") {
  TestServer srv(demo_router());
  Client c(srv.url(), {.bearer_token = "s3cret-token"});
  auto r = c.get_json("/v1/hello/alice?q=x%20y");
  REQUIRE(r.has_value());
  CHECK((*r)["hello"] == "alice");
  CHECK((*r)["q"] == "x y");
  auto e = c.post_json("/v1/echo", {{"a", 1}});
  REQUIRE(e.has_value());
  CHECK((*e)["a"] == 1);
  // Keep-alive: many requests over the one connection.
  for (int i = 0; i < 20; ++i) REQUIRE(c.get_json("/v1/hello/x").has_value());
}

TEST_CASE("errors are one JSON shape with the right status") {
  TestServer srv(demo_router());
  Client c(srv.url(), {.bearer_token = "s3cret-token"});
  auto nf = c.request("GET", "/v1/nothing");
  REQUIRE(nf.has_value());
  CHECK(nf->status == 404);
  CHECK(json::parse(nf->body)["error"]["code"] == "not_found");
  auto na = c.request("DELETE", "/v1/echo");
  CHECK(na->status == 405);
  auto bad = c.request("POST", "/v1/echo", "{not json");
  CHECK(bad->status == 400);
  CHECK(json::parse(bad->body)["error"]["code"] == "bad_json");
  auto boom = c.get_json("/v1/boom");
  REQUIRE_FALSE(boom.has_value());
  CHECK(boom.error().status == 500);
  CHECK(boom.error().code == "internal");
  auto busy = c.get_json("/v1/conflict");
  CHECK(busy.error().status == 409);
  CHECK(busy.error().message == "desktop 'x' is busy");
  CHECK(c.get_json("/v1/hello/still-alive").has_value());
}

TEST_CASE("bearer token: missing or wrong is 401, public routes need none, token can be swapped") {
  TestServer srv(demo_router());
  Client none(srv.url());
  CHECK(none.get_json("/v1/hello/a").error().status == 401);
  Client wrong(srv.url(), {.bearer_token = "s3cret-tokem"});
  CHECK(wrong.get_json("/v1/hello/a").error().code == "unauthorized");
  CHECK(none.get_json("/health").has_value());
  srv.server().set_token("new-token");
  Client fresh(srv.url(), {.bearer_token = "new-token"});
  CHECK(fresh.get_json("/v1/hello/a").has_value());
  CHECK(constant_time_equal("abc", "abc"));
  CHECK_FALSE(constant_time_equal("abc", "abd"));
  CHECK_FALSE(constant_time_equal("abc", "abcd"));
}

TEST_CASE("oversized bodies get 413 and malformed HTTP gets 400, the server lives on") {
  ServerOptions opt;
  opt.max_body_bytes = 1024;
  TestServer srv(demo_router(), opt);
  Client c(srv.url(), {.bearer_token = "s3cret-token"});
  auto big = c.request("POST", "/v1/echo", std::string(4096, 'x'));
  REQUIRE(big.has_value());
  CHECK(big->status == 413);
  auto garbage = raw_exchange(srv.port(), "GARBAGE\x01\x02 / HTTP/9.9\r\n\r\n");
  CHECK(garbage.find("400") != std::string::npos);
  Client again(srv.url(), {.bearer_token = "s3cret-token"});
  CHECK(again.get_json("/v1/hello/ok").has_value());
}

TEST_CASE("long-poll handlers answer later, a client times out when nobody answers") {
  TestServer srv(demo_router());
  Client c(srv.url(), {.bearer_token = "s3cret-token", .timeout = std::chrono::milliseconds(2000)});
  auto r = c.get_json("/v1/later?ms=100");
  REQUIRE(r.has_value());
  CHECK((*r)["waited_ms"] == 100);
  c.set_timeout(std::chrono::milliseconds(200));
  auto t = c.get_json("/v1/later?ms=-1");
  REQUIRE_FALSE(t.has_value());
  INFO(t.error().message);
  CHECK(t.error().code == "timeout");
  CHECK(t.error().status == 504);
  parked.clear();  // while the server's io_context still exists
}

TEST_CASE("the server's own event loops: clients connected at once all answered, long-polls too, a halt ends open connections") {
  ServerOptions opt;
  opt.io_threads = 2;
  std::optional<TestServer> srv(std::in_place, demo_router(), opt);
  // Connected before anything is accepted: the accept handler must take them all.
  boost::asio::io_context io;
  std::vector<boost::asio::ip::tcp::socket> socks;
  for (int i = 0; i < 200; ++i) {
    socks.emplace_back(io).connect({boost::asio::ip::make_address("127.0.0.1"), srv->port()});
  }
  const std::string req = "GET /v1/hello/x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret-token\r\n\r\n";
  for (auto& s : socks) boost::asio::write(s, boost::asio::buffer(req));
  int ok = 0;
  for (auto& s : socks) {
    std::array<char, 512> buf{};
    auto n = s.read_some(boost::asio::buffer(buf));
    if (std::string(buf.data(), n).starts_with("HTTP/1.1 200")) ++ok;
  }
  CHECK(ok == 200);
  // A reply from another thread reaches a connection on one of the server's loops.
  Client c(srv->url(), {.bearer_token = "s3cret-token", .timeout = std::chrono::milliseconds(5000)});
  for (int i = 0; i < 4; ++i) {  // round robin: both loops
    auto r = c.get_json("/v1/later?ms=20");
    REQUIRE(r.has_value());
    CHECK((*r)["waited_ms"] == 20);
    c = Client(srv->url(), {.bearer_token = "s3cret-token", .timeout = std::chrono::milliseconds(5000)});
  }
  // Idle keep-alive connections keep a stopped server's loops running; halt() ends them, and
  // the server's end closes the connections instead of leaving them hanging.
  srv->server().stop();
  srv->server().halt();
  srv->server().join();
  srv.reset();
  std::array<char, 16> buf{};
  boost::system::error_code ec;
  socks.front().read_some(boost::asio::buffer(buf), ec);
  CHECK(ec == boost::asio::error::eof);
}

TEST_CASE("a server with its own loops destroyed before its owner's io_context leaves no queued socket behind") {
  // The owner stops its io_context with an accept's completion still queued there (CI's ASan run
  // caught the socket in it reaching into a loop the server had destroyed).
  std::optional<boost::asio::io_context> io(std::in_place);
  ServerOptions opt;
  opt.io_threads = 2;
  opt.bearer_token = "s3cret-token";
  auto srv = std::make_unique<Server>(*io, opt, demo_router(), log::make_logger("http-test", spdlog::level::off));
  srv->start();
  srv->stop();
  CHECK(io->poll_one() == 1);  // the acceptor closes; its aborted accept stays queued
  srv.reset();
  io.reset();  // destroys the queued completion and its socket
}

TEST_CASE("an unreachable server is an error, not an exception") {
  Client c("http://127.0.0.1:1", {.timeout = std::chrono::milliseconds(500)});
  auto r = c.get_json("/x");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == "unreachable");
  CHECK_THROWS_AS(Client("ftp://x"), Failure);
  CHECK(Url::parse("http://[::1]:8080/api/").value().prefix == "/api");
  CHECK(Url::parse("https://h").value().port == "443");
  CHECK_FALSE(Url::parse("http://h:x1").has_value());
}

TEST_CASE("files are served as bodies, HEAD gives headers only") {
  auto dir = std::filesystem::temp_directory_path() / "labdesk-http-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "f.bin") << std::string(100000, 'z');
  Router r;
  r.add("GET", "/files/{name}", [dir](const Request& req) {
    Response resp;
    resp.content_type = "application/octet-stream";
    resp.file = (dir / req.params.at("name")).string();
    return resp;
  }, Auth::none);
  TestServer srv(std::move(r));
  Client c(srv.url());
  auto got = c.request("GET", "/files/f.bin");
  REQUIRE(got.has_value());
  CHECK(got->status == 200);
  CHECK(got->body.size() == 100000);
  auto head = c.request("HEAD", "/files/f.bin");
  REQUIRE(head.has_value());
  CHECK(head->status == 200);
  CHECK(head->body.empty());
  CHECK(c.request("GET", "/files/missing")->status == 404);
  std::filesystem::remove_all(dir);
}

TEST_CASE("TLS: the same API over https with a self-signed certificate") {
  auto dir = std::filesystem::temp_directory_path() / "labdesk-tls-test";
  std::filesystem::create_directories(dir);
  std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                    "-addext subjectAltName=IP:127.0.0.1 -keyout " + (dir / "key.pem").string() +
                    " -out " + (dir / "cert.pem").string() + " 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  ServerOptions opt;
  opt.tls = TlsFiles{(dir / "cert.pem").string(), (dir / "key.pem").string()};
  TestServer srv(demo_router(), opt);
  Client trusted(srv.url(true), {.bearer_token = "s3cret-token", .ca_file = (dir / "cert.pem").string()});
  auto r = trusted.get_json("/v1/hello/tls");
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK((*r)["hello"] == "tls");
  Client untrusted(srv.url(true), {.bearer_token = "s3cret-token"});
  CHECK_FALSE(untrusted.get_json("/v1/hello/tls").has_value());
  Client plain(srv.url(false), {.bearer_token = "s3cret-token", .timeout = std::chrono::milliseconds(1000)});
  CHECK_FALSE(plain.get_json("/v1/hello/tls").has_value());
  std::filesystem::remove_all(dir);
}

TEST_CASE("TLS: a trusted certificate that names another address is refused (no impersonation)") {
  auto dir = std::filesystem::temp_directory_path() / "labdesk-tls-name-test";
  std::filesystem::create_directories(dir);
  std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=10.9.9.9 "
                    "-addext subjectAltName=IP:10.9.9.9 -keyout " + (dir / "key.pem").string() +
                    " -out " + (dir / "cert.pem").string() + " 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  ServerOptions opt;
  opt.tls = TlsFiles{(dir / "cert.pem").string(), (dir / "key.pem").string()};
  TestServer srv(demo_router(), opt);
  Client c(srv.url(true), {.bearer_token = "s3cret-token", .ca_file = (dir / "cert.pem").string()});
  auto r = c.get_json("/v1/hello/tls");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("TLS handshake") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a path or method that is not UTF-8 or holds control characters is answered, not fatal") {
  TestServer srv(demo_router());
  for (const char* path : {"/%ff", "/v1/hello/%ff%fe", "/%c0%af", "/%0a%0dSet-Cookie:x", "/%ed%a0%80"}) {
    auto raw = raw_exchange(srv.port(), std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    INFO(path);
    CHECK(raw.find("HTTP/1.1 40") == 0);
    auto body = json::parse(raw.substr(raw.find("\r\n\r\n") + 4));
    CHECK(body["error"]["code"].is_string());
  }
  auto nf = raw_exchange(srv.port(), "GET /%ff%0a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(nf.find(R"(no such resource '/\\xff\\n')") != std::string::npos);
  // The handler echoes a name that is not UTF-8: the answer replaces the bytes instead of throwing.
  auto echoed = raw_exchange(srv.port(), "GET /v1/hello/%ff HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-token\r\n"
                                          "Connection: close\r\n\r\n");
  CHECK(echoed.find("HTTP/1.1 200") == 0);
  CHECK(echoed.find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD
  Client c(srv.url(), {.bearer_token = "s3cret-token"});
  CHECK(c.get_json("/v1/hello/still-alive").has_value());
}

TEST_CASE("a pool task that throws answers with the error shape and the pool lives on") {
  boost::asio::thread_pool pool(1);
  Router r;
  auto log = log::make_logger("pool-test", spdlog::level::off);
  r.add_async("GET", "/v1/task/{kind}", [&pool, log](const Request& req, Reply reply) {
    boost::asio::post(pool, guarded(reply, log, [kind = req.params.at("kind"), reply] {
      if (kind == "fail") throw Failure(Error{"store_unavailable", "the store cannot be written: disk full", 503});
      if (kind == "bug") throw std::logic_error("bug");
      reply(Response::json({{"ok", kind}}));
    }));
  });
  TestServer srv(std::move(r));
  Client c(srv.url(), {.bearer_token = "s3cret-token"});
  CHECK(c.get_json("/v1/task/fail").error().status == 503);
  CHECK(c.get_json("/v1/task/bug").error().code == "internal");
  CHECK((*c.get_json("/v1/task/fine"))["ok"] == "fine");
  CHECK(busy("the queue").status == 429);
  CHECK(busy("the queue", 3).headers.at(0) == std::pair<std::string, std::string>{"Retry-After", "3"});
  pool.join();
}

TEST_CASE("connection limits: per source and in all, a closed connection frees its place") {
  ServerOptions opt;
  opt.max_connections_per_source = 3;
  TestServer srv(demo_router(), opt);
  boost::asio::io_context io;
  std::vector<boost::asio::ip::tcp::socket> held;
  for (int i = 0; i < 3; ++i) {
    held.emplace_back(io).connect({boost::asio::ip::make_address("127.0.0.1"), srv.port()});
  }
  // The fourth from the same address is closed without an answer.
  auto refused = raw_exchange(srv.port(), "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(refused.empty());
  held.pop_back();  // closed: the server notices at its next read
  bool answered = false;
  for (int i = 0; i < 50 && !answered; ++i) {
    answered = raw_exchange(srv.port(), "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").find("200") != std::string::npos;
    if (!answered) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(answered);
}

TEST_CASE("an async route that never answers gets a 504 at its deadline, and the connection lives on") {
  ServerOptions opt;
  opt.async_deadline = std::chrono::seconds(1);
  TestServer srv(demo_router(), opt);
  Client c(srv.url(), {.bearer_token = "s3cret-token", .timeout = std::chrono::milliseconds(5000)});
  auto t0 = std::chrono::steady_clock::now();
  auto r = c.get_json("/v1/later?ms=-1");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().status == 504);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
  CHECK((*c.get_json("/v1/later?ms=10"))["waited_ms"] == 10);
  parked.clear();  // the reply held by the handler goes before the server does
}
