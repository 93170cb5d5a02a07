#include "labdesk/http/client.hpp"

#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace labdesk::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

Result<Url> Url::parse(const std::string& text) {
  Url u;
  std::string rest;
  if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else if (text.starts_with("https://")) {
    u.tls = true;
    rest = text.substr(8);
  } else {
    return fail("bad_url", "URL '" + text + "' must start with http:// or https://");
  }
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  if (!hostport.empty() && hostport.front() == '[') {  // [::1]:8080
    auto close = hostport.find(']');
    if (close == std::string::npos) return fail("bad_url", "URL '" + text + "' has an unclosed '['");
    u.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':') u.port = hostport.substr(close + 2);
  } else {
    auto colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    if (colon != std::string::npos) u.port = hostport.substr(colon + 1);
  }
  if (u.host.empty()) return fail("bad_url", "URL '" + text + "' names no host");
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  if (u.port.find_first_not_of("0123456789") != std::string::npos) {
    return fail("bad_url", "URL '" + text + "' has a bad port '" + u.port + "'");
  }
  return u;
}

Error error_from_response(const Response& r) {
  try {
    auto j = nlohmann::json::parse(r.body);
    Error e = Error::from_json(j);
    e.status = r.status;
    return e;
  } catch (const std::exception&) {
    return Error{"http_" + std::to_string(r.status),
                 "server answered " + std::to_string(r.status) + ": " + r.body.substr(0, 200),
                 r.status};
  }
}

struct Client::Impl {
  Url url;
  ClientOptions opt;
  asio::io_context io;
  std::optional<asio::ssl::context> ssl;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
  bool connected() { return (plain || secure) && lowest().socket().is_open(); }

  void reset() {
    plain.reset();
    secure.reset();
    buffer.clear();
  }

  // Runs the io_context until `done` or the deadline; the stream's timer cancels the operation.
  void run() {
    io.restart();
    io.run();
  }

  std::optional<Error> connect() {
    reset();
    beast::error_code ec;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(url.host, url.port, ec);
    if (ec) return Error{"unreachable", "cannot resolve '" + url.host + "': " + ec.message(), 503};
    beast::tcp_stream stream(io);
    stream.expires_after(opt.timeout);
    stream.async_connect(results, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run();
    if (ec) return transport_error("connect to", ec);
    stream.socket().set_option(tcp::no_delay(true));
    if (!url.tls) {
      plain.emplace(std::move(stream));
      return std::nullopt;
    }
    secure.emplace(std::move(stream), *ssl);
    if (!SSL_ctrl(secure->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                  static_cast<void*>(url.host.data()))) {
      return Error{"tls_failed", "cannot set TLS server name '" + url.host + "'", 503};
    }
    secure->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    run();
    if (ec) return transport_error("TLS handshake with", ec);
    return std::nullopt;
  }

  Error transport_error(const std::string& what, beast::error_code ec) {
    reset();
    bool timeout = ec == beast::error::timeout;
    return Error{timeout ? "timeout" : "unreachable",
                 "cannot " + what + " '" + url.host + ":" + url.port + "': " +
                     (timeout ? "timed out after " + std::to_string(opt.timeout.count()) + " ms"
                              : ec.message()),
                 timeout ? 504 : 503};
  }

  template <class Stream>
  Result<Response> exchange(Stream& s, bhttp::request<bhttp::string_body>& req) {
    beast::error_code ec;
    lowest().expires_after(opt.timeout);
    bhttp::async_write(s, req, [&](beast::error_code e, std::size_t) { ec = e; });
    run();
    if (ec) return std::unexpected(transport_error("send to", ec));
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256U << 20);
    if (req.method() == bhttp::verb::head) parser.skip(true);  // headers only
    bhttp::async_read(s, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    run();
    if (ec) return std::unexpected(transport_error("read from", ec));
    auto res = parser.release();
    Response out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[bhttp::field::content_type]);
    for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    out.body = std::move(res.body());
    if (!res.keep_alive()) reset();
    return out;
  }
};

Client::Client(const std::string& base_url, ClientOptions options) : impl_(std::make_unique<Impl>()) {
  auto url = Url::parse(base_url);
  if (!url) throw Failure(url.error());
  impl_->url = *url;
  impl_->opt = std::move(options);
  if (impl_->url.tls) {
    impl_->ssl.emplace(asio::ssl::context::tls_client);
    impl_->ssl->set_default_verify_paths();
    if (!impl_->opt.ca_file.empty()) impl_->ssl->load_verify_file(impl_->opt.ca_file);
    impl_->ssl->set_verify_mode(impl_->opt.verify_tls ? asio::ssl::verify_peer : asio::ssl::verify_none);
    // A chain that leads to a trusted CA is not enough: the certificate must name the host or
    // address asked for, or any certificate of the lab CA would pass for the boot-server.
    if (impl_->opt.verify_tls) impl_->ssl->set_verify_callback(asio::ssl::host_name_verification(impl_->url.host));
  }
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

void Client::set_timeout(std::chrono::milliseconds t) { impl_->opt.timeout = t; }
const Url& Client::url() const { return impl_->url; }

Result<Response> Client::request(const std::string& method, const std::string& target,
                                 const std::string& body, const std::string& content_type) {
  auto& d = *impl_;
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(d.url.prefix + target);
  req.version(11);
  req.set(bhttp::field::host, d.url.host);
  req.set(bhttp::field::user_agent, "labdesk");
  if (!d.opt.bearer_token.empty()) req.set(bhttp::field::authorization, "Bearer " + d.opt.bearer_token);
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.set(bhttp::field::content_type, content_type);
    req.body() = body;
  }
  req.keep_alive(true);
  req.prepare_payload();
  // A kept-alive connection may have been closed by the server: retry once on a fresh one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = d.connected();
    if (!reused) {
      if (auto err = d.connect()) return std::unexpected(*err);
    }
    auto r = d.secure ? d.exchange(*d.secure, req) : d.exchange(*d.plain, req);
    if (r || !reused || r.error().code == "timeout") return r;
  }
  return std::unexpected(Error{"unreachable", "connection to '" + d.url.host + "' keeps closing", 503});
}

Result<nlohmann::json> Client::send_json(const std::string& method, const std::string& target,
                                         const nlohmann::json& body) {
  auto r = request(method, target, body.is_null() ? "" : body.dump());
  if (!r) return std::unexpected(r.error());
  if (r->status < 200 || r->status >= 300) return std::unexpected(error_from_response(*r));
  if (r->body.empty()) return nlohmann::json(nullptr);
  try {
    return nlohmann::json::parse(r->body);
  } catch (const std::exception&) {
    return fail("bad_response", "server answered with a body that is not JSON", 502);
  }
}

Result<nlohmann::json> Client::get_json(const std::string& target) {
  return send_json("GET", target, nullptr);
}

Result<nlohmann::json> Client::post_json(const std::string& target, const nlohmann::json& body) {
  return send_json("POST", target, body);
}

}  // namespace labdesk::http
