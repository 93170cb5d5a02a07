#include "pxe/file_server.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "labdesk/common/error.hpp"

namespace labdesk::boot {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;

struct BootFileServer::Impl : std::enable_shared_from_this<Impl> {
  asio::io_context& io;
  std::string address;
  std::uint16_t port;
  const BootFiles& files;
  std::shared_ptr<spdlog::logger> log;
  tcp::acceptor acceptor;

  Impl(asio::io_context& i, std::string a, std::uint16_t p, const BootFiles& f, std::shared_ptr<spdlog::logger> l)
      : io(i), address(std::move(a)), port(p), files(f), log(std::move(l)), acceptor(i) {}

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (acceptor.is_open()) {
      beast::error_code ec;
      tcp::socket sock = co_await acceptor.async_accept(asio::make_strand(io), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        // Out of descriptors (EMFILE) or buffers: pause instead of spinning on the same error.
        log->warn("boot files: cannot accept a connection: {}; pausing 100 ms", ec.message());
        asio::steady_timer pause(io, std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      asio::co_spawn(sock.get_executor(), session(beast::tcp_stream(std::move(sock))), asio::detached);
    }
  }

  template <class Body>
  static void finish(bhttp::response<Body>& res, bool keep_alive) {
    res.set(bhttp::field::server, "labdesk-boot-server");
    res.keep_alive(keep_alive);
    res.prepare_payload();
  }

  // "/boot/<version>/<relative>" → the file, or nullopt.
  std::optional<std::filesystem::path> lookup(std::string_view target) const {
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    constexpr std::string_view prefix = "/boot/";
    if (!target.starts_with(prefix)) return std::nullopt;
    target.remove_prefix(prefix.size());
    auto slash = target.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    return files.resolve(std::string(target.substr(0, slash)), std::string(target.substr(slash + 1)));
  }

  asio::awaitable<void> session(beast::tcp_stream stream) {
    auto self = shared_from_this();
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::empty_body> parser;
      parser.header_limit(8192);
      stream.expires_after(std::chrono::seconds(30));
      beast::error_code rec;
      co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, rec));
      if (rec) break;
      const auto& req = parser.get();
      const bool keep = req.keep_alive();
      const bool head = req.method() == bhttp::verb::head;
      auto file = (req.method() == bhttp::verb::get || head) ? lookup(std::string_view(req.target().data(), req.target().size())) : std::nullopt;
      int fd = file ? ::open(file->c_str(), O_RDONLY | O_CLOEXEC) : -1;
      struct stat st{};
      if (fd < 0 || ::fstat(fd, &st) != 0) {
        if (fd >= 0) ::close(fd);
        bhttp::response<bhttp::string_body> res{bhttp::status::not_found, req.version()};
        res.set(bhttp::field::content_type, "application/json");
        res.body() = R"({"error":{"code":"not_found","message":"no such boot file: use /boot/VERSION/vmlinuz or /boot/VERSION/thin-client/initrd.cpio.gz"}})";
        finish(res, keep);
        beast::error_code wec;
        co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, wec));
        if (wec || !keep) break;
        continue;
      }
      bhttp::response<bhttp::empty_body> res{bhttp::status::ok, req.version()};
      res.set(bhttp::field::content_type, "application/octet-stream");
      res.set(bhttp::field::server, "labdesk-boot-server");
      res.content_length(static_cast<std::uint64_t>(st.st_size));
      res.keep_alive(keep);
      bhttp::response_serializer<bhttp::empty_body> sr{res};
      stream.expires_after(std::chrono::seconds(60));
      beast::error_code hec;
      co_await bhttp::async_write_header(stream, sr, asio::redirect_error(asio::use_awaitable, hec));
      bool ok = !hec;
      if (ok && !head) ok = co_await send_file(stream, fd, st.st_size);
      ::close(fd);
      if (!ok || !keep) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  // sendfile(2) on the non-blocking socket, waiting for writability when the socket is full.
  static asio::awaitable<bool> send_file(beast::tcp_stream& stream, int fd, off_t size) {
    auto& sock = stream.socket();
    sock.native_non_blocking(true);
    off_t offset = 0;
    while (offset < size) {
      const ssize_t sent = ::sendfile(sock.native_handle(), fd, &offset, static_cast<std::size_t>(size - offset));
      if (sent > 0) continue;
      if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        stream.expires_after(std::chrono::seconds(60));
        beast::error_code ec;
        co_await sock.async_wait(tcp::socket::wait_write, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return false;
        continue;
      }
      if (sent < 0 && errno == EINTR) continue;
      co_return false;
    }
    co_return true;
  }
};

BootFileServer::BootFileServer(asio::io_context& io, std::string address, std::uint16_t port, const BootFiles& files,
                               std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_shared<Impl>(io, std::move(address), port, files, std::move(log))) {}

BootFileServer::~BootFileServer() { stop(); }

void BootFileServer::start() {
  beast::error_code ec;
  const auto addr = asio::ip::make_address(impl_->address, ec);
  tcp::endpoint ep{addr, impl_->port};
  if (!ec) impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw Failure(Error{"bind", "cannot listen for boot files on '" + impl_->address + ":" + std::to_string(impl_->port) +
                                    "': " + ec.message() + "; is boot.files_port in use?", 500});
  }
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
}

void BootFileServer::stop() {
  beast::error_code ignored;
  if (impl_->acceptor.is_open()) impl_->acceptor.close(ignored);
}

std::uint16_t BootFileServer::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? impl_->port : ep.port();
}

}  // namespace labdesk::boot
