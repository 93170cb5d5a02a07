// labdesk-viewer's command line: CLI11 parses and checks every flag, usage errors exit 2.
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "options.hpp"

using labdesk::viewer::Options;

namespace {

// Runs parse_options on argv; the exit code it asks for, or -1 to run.
int parse(std::initializer_list<std::string> args, Options& o) {
  std::vector<std::string> store{"labdesk-viewer"};
  store.insert(store.end(), args);
  std::vector<char*> argv;
  for (auto& a : store) argv.push_back(a.data());
  auto code = labdesk::viewer::parse_options(static_cast<int>(argv.size()), argv.data(), o);
  return code ? *code : -1;
}

int parse(std::initializer_list<std::string> args) {
  Options o;
  return parse(args, o);
}

}  // namespace

TEST_CASE("viewer options: --vnc, --windowed and --ca land where the viewer reads them") {
  Options o;
  REQUIRE(parse({"--vnc", "127.0.0.1:5901", "--vnc-password", "pw", "--windowed", "1024x768"}, o) == -1);
  REQUIRE(o.vnc.has_value());
  CHECK(o.vnc->endpoint.host == "127.0.0.1");
  CHECK(o.vnc->endpoint.port == 5901);
  CHECK(o.vnc->vnc_password == "pw");
  CHECK_FALSE(o.vnc->endpoint.tls);
  CHECK(o.window_w == 1024);
  CHECK(o.window_h == 768);

  Options t;
  REQUIRE(parse({"--vnc", "::1:5901", "--ca", LABDESK_SOURCE_DIR "/README.md"}, t) == -1);
  CHECK(t.vnc->endpoint.host == "::1");
  CHECK(t.vnc->endpoint.tls);  // --ca with --vnc: the console must be VeNCrypt x509
  CHECK(t.rfb.ca_file == LABDESK_SOURCE_DIR "/README.md");

  Options s;
  REQUIRE(parse({"--server", "https://10.77.0.1:8443", "--user", "ana", "--password", "pw"}, s) == -1);
  CHECK(s.server == "https://10.77.0.1:8443");
  CHECK_FALSE(s.vnc.has_value());
  CHECK(s.window_w == 0);  // full screen
}

TEST_CASE("viewer options: usage errors exit 2, --help exits 0") {
  CHECK(parse({"--help"}) == 0);
  CHECK(parse({}) == 2);  // neither --server nor --vnc
  for (const char* bad : {"5901", "host:", "host:0", "host:70000", "host:59x1", ":5901"}) {
    CAPTURE(bad);
    CHECK(parse({"--vnc", bad}) == 2);
  }
  for (const char* bad : {"1024", "0x768", "1024x", "x768", "-5x5", "1024x768x2"}) {
    CAPTURE(bad);
    CHECK(parse({"--server", "https://h", "--windowed", bad}) == 2);
  }
  CHECK(parse({"--server", "https://h", "--vnc", "h:5901"}) == 2);   // one or the other
  CHECK(parse({"--server", "https://h", "--user", "ana"}) == 2);     // --user needs --password
  CHECK(parse({"--server", "https://h", "--ca", "/nonexistent/ca.pem"}) == 2);
  CHECK(parse({"--server", "https://h", "--vnc-password", "pw"}) == 2);  // only with --vnc
  CHECK(parse({"--server", "https://h", "--jpeg-quality", "10"}) == 2);
  CHECK(parse({"--server", "https://h", "--no-such-flag"}) == 2);
}
