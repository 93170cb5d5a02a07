#include "options.hpp"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>

namespace labdesk::viewer {

std::optional<int> parse_options(int argc, char** argv, Options& o) {
  CLI::App app{"labdesk-viewer: the lab PC's desktop viewer"};
  std::string vnc, vnc_password, windowed;
  app.add_option("--server", o.server, "the lab API's URL, e.g. https://10.77.0.1:8443");
  app.add_option("--ca", o.ca_file, "the lab CA (PEM) the lab API's and the consoles' certificates must chain to "
                                     "(thin clients: /etc/tc/lab-ca.pem); with --vnc the console must speak VeNCrypt x509");
  app.add_option("--client-id", o.client_id, "this lab PC's id (default: host name)");
  app.add_option("--user", o.user, "log in as USER without the login screen (tests, kiosks)");
  app.add_option("--password", o.password, "password for --user");
  app.add_option("--vnc", vnc, "connect straight to HOST:PORT, no boot-server");
  app.add_option("--vnc-password", vnc_password, "VNC password for --vnc");
  app.add_option("--screenshot", o.screenshot, "write a PNG after the first full frame and on SIGUSR1");
  app.add_option("--exit-after", o.exit_after, "quit after SECONDS")->check(CLI::NonNegativeNumber);
  app.add_option("--windowed", windowed, "a WxH window instead of full screen");
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
    return app.exit(e);
  }
  auto bad = [](const std::string& m) {
    std::fprintf(stderr, "labdesk-viewer: %s\n", m.c_str());
    return std::optional<int>(2);
  };
  if (!vnc.empty()) {
    auto colon = vnc.rfind(':');
    unsigned port = 0;
    const char* end = vnc.data() + vnc.size();
    if (colon == std::string::npos || std::from_chars(vnc.data() + colon + 1, end, port).ptr != end ||
        port == 0 || port > 65535)
      return bad("--vnc '" + vnc + "' is not HOST:PORT (e.g. 127.0.0.1:5901)");
    o.vnc = Target{{vnc.substr(0, colon), static_cast<std::uint16_t>(port)}, vnc_password};
  }
  if (!windowed.empty()) {
    if (std::sscanf(windowed.c_str(), "%dx%d", &o.window_w, &o.window_h) != 2 || o.window_w <= 0 ||
        o.window_h <= 0)
      return bad("--windowed '" + windowed + "' is not WxH (e.g. 1024x768)");
  }
  o.rfb.library_log = o.log_level == "trace";
  if (!o.vnc && o.server.empty()) return bad("give --server URL (boot-server) or --vnc HOST:PORT");
  if (o.vnc && !o.server.empty()) return bad("--server and --vnc exclude each other: pick one");
  if (!o.user.empty() && o.password.empty()) return bad("--user needs --password");
  if (!o.ca_file.empty()) {
    std::FILE* f = std::fopen(o.ca_file.c_str(), "r");
    if (!f) return bad("--ca '" + o.ca_file + "' cannot be read: give the lab CA's PEM file");
    std::fclose(f);
    o.rfb.ca_file = o.ca_file;
    if (o.vnc) o.vnc->endpoint.tls = true;  // --vnc with --ca: the console must be VeNCrypt x509
  }
  return std::nullopt;
}

}  // namespace labdesk::viewer
