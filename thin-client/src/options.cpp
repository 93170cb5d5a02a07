#include "options.hpp"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>

namespace labdesk::viewer {
namespace {

int whole_number(const std::string& s) {
  int n = 0;
  const char* end = s.data() + s.size();
  auto r = std::from_chars(s.data(), end, n);
  return r.ptr == end && r.ec == std::errc() && !s.empty() ? n : -1;
}

// "HOST:PORT" (the last ':' splits, so an IPv6 host keeps its colons).
api::Endpoint host_port(const std::string& v) {
  const auto colon = v.rfind(':');
  const int port = colon == std::string::npos ? -1 : whole_number(v.substr(colon + 1));
  if (colon == 0 || port <= 0 || port > 65535) {
    throw CLI::ValidationError("--vnc", "'" + v + "' is not HOST:PORT (e.g. 127.0.0.1:5901)");
  }
  return {v.substr(0, colon), static_cast<std::uint16_t>(port)};
}

std::pair<int, int> window_size(const std::string& v) {
  const auto x = v.find('x');
  const int w = x == std::string::npos ? -1 : whole_number(v.substr(0, x));
  const int h = x == std::string::npos ? -1 : whole_number(v.substr(x + 1));
  if (w <= 0 || h <= 0) throw CLI::ValidationError("--windowed", "'" + v + "' is not WxH (e.g. 1024x768)");
  return {w, h};
}

}  // namespace

std::optional<int> parse_options(int argc, char** argv, Options& o) {
  CLI::App app{"labdesk-viewer: the lab PC's desktop viewer"};
  std::string vnc_password;
  auto* server = app.add_option("--server", o.server, "the lab API's URL, e.g. https://10.77.0.1:8443");
  app.add_option("--ca", o.ca_file, "the lab CA (PEM) the lab API's and the consoles' certificates must chain to "
                                     "(thin clients: /etc/tc/lab-ca.pem); with --vnc the console must speak VeNCrypt x509")
      ->check(CLI::ExistingFile);
  app.add_option("--client-id", o.client_id, "this lab PC's id (default: host name)");
  auto* user = app.add_option("--user", o.user, "log in as USER without the login screen (tests, kiosks)");
  auto* password = app.add_option("--password", o.password, "password for --user");
  user->needs(password);
  auto* vnc = app.add_option_function<std::string>(
      "--vnc", [&o](const std::string& v) { o.vnc = Target{host_port(v), ""}; }, "connect straight to HOST:PORT, no boot-server");
  vnc->excludes(server);
  app.add_option("--vnc-password", vnc_password, "VNC password for --vnc")->needs(vnc);
  app.add_option("--screenshot", o.screenshot, "write a PNG after the first full frame and on SIGUSR1");
  app.add_option("--exit-after", o.exit_after, "quit after SECONDS")->check(CLI::NonNegativeNumber);
  app.add_option_function<std::string>(
      "--windowed", [&o](const std::string& v) { std::tie(o.window_w, o.window_h) = window_size(v); },
      "a WxH window instead of full screen");
  app.add_option("--renderer", o.renderer, "SDL render driver: software (default), opengl, ...");
  app.add_option("--encodings", o.rfb.encodings, "RFB encodings in order of preference (default: zrle first, tight first with --jpeg-quality)");
  app.add_option("--jpeg-quality", o.rfb.jpeg_quality, "0..9 enables lossy JPEG; -1 lossless")
      ->check(CLI::Range(-1, 9));
  app.add_option("--compress-level", o.rfb.compress_level, "zlib level 0..9")->check(CLI::Range(0, 9));
  app.add_option("--stats", o.stats, "write timings and counters as JSON at exit (- = stdout)");
  app.add_option("--log-level", o.log_level, "trace|debug|info|warn|error|off (trace: libvncclient's own messages too, on stderr)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is fine; anything else is a usage error, as in our daemons
  }
  if (!o.vnc && o.server.empty()) {
    std::fprintf(stderr, "labdesk-viewer: give --server URL (boot-server) or --vnc HOST:PORT\n");
    return 2;
  }
  o.rfb.library_log = o.log_level == "trace";
  if (o.vnc) o.vnc->vnc_password = vnc_password;
  if (!o.ca_file.empty()) {
    o.rfb.ca_file = o.ca_file;
    if (o.vnc) o.vnc->endpoint.tls = true;  // --vnc with --ca: the console must be VeNCrypt x509
  }
  return std::nullopt;
}

}  // namespace labdesk::viewer
