// The viewer's RFB layer against a real RFB server (libvncserver) on loopback: handshake with a
// password, the known picture arrives pixel-exact, updates come as rectangles, input and
// clipboard go out, a desktop resize is followed, a wrong password is refused.
#include <doctest/doctest.h>

#include <poll.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "fake_rfb_server.hpp"
#include "png_writer.hpp"
#include "rfb_connection.hpp"

using namespace labdesk::viewer;
using labdesk::fakes::FakeRfbServer;

namespace {

struct Recorder final : RfbListener {
  std::vector<Rect> rects;
  int updates = 0, resizes = 0, w = 0, h = 0;
  std::string clip;
  void on_resize(int nw, int nh) override {
    ++resizes;
    w = nw;
    h = nh;
  }
  void on_rect(const Rect& r) override { rects.push_back(r); }
  void on_update_done() override { ++updates; }
  void on_clipboard(const std::string& t) override { clip = t; }
};

// Pumps until `done` or 10 s.
template <typename F>
bool pump_until(RfbConnection& c, F done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    pollfd p{c.fd(), POLLIN, 0};
    poll(&p, 1, 100);
    if (!c.pump()) return false;
  }
  return true;
}

std::uint32_t pixel(const RfbConnection& c, int x, int y) {
  std::uint32_t v = 0;
  std::memcpy(&v, c.pixels() + y * c.stride() + x * 4, 4);
  return v & 0xFFFFFFU;
}

long covered(const std::vector<Rect>& rs) {
  long a = 0;
  for (const auto& r : rs) a += r.area();
  return a;
}

Target target(const FakeRfbServer& s, std::string pw) {
  return Target{{"127.0.0.1", static_cast<std::uint16_t>(s.port())}, std::move(pw)};
}

}  // namespace

TEST_CASE("the known picture arrives pixel-exact after a password handshake") {
  FakeRfbServer server(320, 200, "s3cret");
  Recorder rec;
  for (std::string enc : {"tight", "zrle", "hextile", "raw"}) {
    CAPTURE(enc);
    RfbOptions opt;
    opt.encodings = enc + " copyrect";
    rec.rects.clear();
    auto c = RfbConnection::open(target(server, "s3cret"), opt, rec);
    REQUIRE(c.has_value());
    auto& conn = **c;
    CHECK(conn.width() == 320);
    CHECK(conn.height() == 200);
    CHECK(conn.desktop_name() == "labdesk-fake");
    REQUIRE(pump_until(conn, [&] { return covered(rec.rects) >= 320L * 200; }));
    int wrong = 0;
    for (int y = 0; y < 200; y += 7)
      for (int x = 0; x < 320; x += 5) wrong += pixel(conn, x, y) != FakeRfbServer::expected_rgb(x, y) ? 1 : 0;
    CHECK(wrong == 0);
  }
}

TEST_CASE("lossless prefers ZRLE, JPEG prefers Tight, an explicit list is kept") {
  FakeRfbServer server(320, 200, "pw");
  Recorder rec;
  auto encodings_of = [&](const RfbOptions& opt) {  // one client at a time
    auto c = RfbConnection::open(target(server, "pw"), opt, rec);
    REQUIRE(c.has_value());
    return (*c)->encodings();
  };
  RfbOptions lossless, jpeg, given;
  jpeg.jpeg_quality = 6;
  given.encodings = "hextile raw";
  CHECK(encodings_of(lossless).rfind("zrle tight ", 0) == 0);
  CHECK(encodings_of(jpeg).rfind("tight zrle ", 0) == 0);
  CHECK(encodings_of(given) == "hextile raw");
  CHECK(RfbOptions{}.compress_level == 2);
}

TEST_CASE("only the changed rectangle is sent after the first frame") {
  FakeRfbServer server(320, 200, "pw");
  Recorder rec;
  auto c = RfbConnection::open(target(server, "pw"), RfbOptions{}, rec);
  REQUIRE(c.has_value());
  REQUIRE(pump_until(**c, [&] { return covered(rec.rects) >= 320L * 200; }));
  rec.rects.clear();
  server.paint(100, 50, 30, 20, 1);
  REQUIRE(pump_until(**c, [&] { return covered(rec.rects) >= 600; }));
  CHECK(covered(rec.rects) < 320L * 200 / 4);
  CHECK(pixel(**c, 110, 60) == FakeRfbServer::expected_rgb(110, 60, 1));
  CHECK(pixel(**c, 10, 100) == FakeRfbServer::expected_rgb(10, 100, 0));
}

TEST_CASE("keys, pointer and clipboard reach the server, its clipboard reaches us") {
  FakeRfbServer server(320, 200, "pw");
  Recorder rec;
  auto c = RfbConnection::open(target(server, "pw"), RfbOptions{}, rec);
  REQUIRE(c.has_value());
  REQUIRE(pump_until(**c, [&] { return covered(rec.rects) >= 320L * 200; }));
  (*c)->key('A', true);
  (*c)->key('A', false);
  (*c)->pointer(10, 10, 1);
  (*c)->clipboard("caf\xe9");
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((server.keys().size() < 2 || server.clipboard().empty()) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto keys = server.keys();
  REQUIRE(keys.size() == 2);
  CHECK(keys[0] == std::pair<std::uint32_t, bool>{'A', true});
  CHECK(keys[1] == std::pair<std::uint32_t, bool>{'A', false});
  CHECK(server.clipboard() == "caf\xe9");
  server.send_clipboard("from the desktop");
  REQUIRE(pump_until(**c, [&] { return rec.clip == "from the desktop"; }));
}

TEST_CASE("a desktop size change reallocates the framebuffer and is reported") {
  FakeRfbServer server(320, 200, "pw");
  Recorder rec;
  auto c = RfbConnection::open(target(server, "pw"), RfbOptions{}, rec);
  REQUIRE(c.has_value());
  REQUIRE(pump_until(**c, [&] { return covered(rec.rects) >= 320L * 200; }));
  int before = rec.resizes;
  server.resize(400, 300);
  REQUIRE(pump_until(**c, [&] { return rec.resizes > before && rec.w == 400; }));
  CHECK((*c)->width() == 400);
  CHECK((*c)->height() == 300);
}

// libvncclient ignores QEMU's ExtendedDesktopSize (screen id 0) and then drops the link on the
// next full-size rectangle: at every guest mode switch. The viewer must leave it plain DesktopSize.
TEST_CASE("the viewer ends up asking for DesktopSize, not ExtendedDesktopSize") {
  FakeRfbServer server(320, 200, "pw");
  Recorder rec;
  auto c = RfbConnection::open(target(server, "pw"), RfbOptions{}, rec);
  REQUIRE(c.has_value());
  REQUIRE(pump_until(**c, [&] { return covered(rec.rects) >= 320L * 200; }));
  // The server may answer the first frame's request before it reads the second SetEncodings:
  // wait for that one (up to 2 s), then judge what it asked for.
  std::optional<FakeRfbServer::ResizeEncodings> e;
  for (int i = 0; i < 200; ++i) {
    e = server.resize_encodings();
    if (e && !e->ext_desktop_size) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(e.has_value());
  CHECK(e->desktop_size);
  CHECK_FALSE(e->ext_desktop_size);
  server.resize(640, 480);  // and a size change still arrives, as DesktopSize
  REQUIRE(pump_until(**c, [&] { return rec.w == 640 && rec.h == 480; }));
  CHECK((*c)->width() == 640);
}

TEST_CASE("a wrong password or a closed port is a clear error, not a crash") {
  FakeRfbServer server(320, 200, "right");
  Recorder rec;
  auto bad = RfbConnection::open(target(server, "wrong"), RfbOptions{}, rec);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == "rfb_connect_failed");
  CHECK(bad.error().message.find("127.0.0.1:") != std::string::npos);
  auto closed = RfbConnection::open(Target{{"127.0.0.1", 1}, "x"}, RfbOptions{}, rec);
  CHECK_FALSE(closed.has_value());
}

TEST_CASE("a console that must be TLS: plain VNC authentication gets no password, a viewer without the lab CA refuses") {
  FakeRfbServer server(320, 200, "right");  // libvncserver: VNC authentication, no VeNCrypt
  Recorder rec;
  Target t = target(server, "right");
  t.endpoint.tls = true;
  auto no_ca = RfbConnection::open(t, RfbOptions{}, rec);
  REQUIRE_FALSE(no_ca.has_value());
  CHECK(no_ca.error().code == "rfb_tls");
  CHECK(no_ca.error().message.find("--ca") != std::string::npos);
  RfbOptions with_ca;
  with_ca.ca_file = "/nonexistent-lab-ca.pem";  // never read: the server offers no TLS at all
  auto plain = RfbConnection::open(t, with_ca, rec);
  REQUIRE_FALSE(plain.has_value());
  CHECK(plain.error().message.find("over TLS") != std::string::npos);
  CHECK(server.password_answers() == 0);
  // The same console without the TLS demand takes the password (the counter counts).
  auto ok = RfbConnection::open(target(server, "right"), RfbOptions{}, rec);
  CHECK(ok.has_value());
  CHECK(server.password_answers() == 1);
}

TEST_CASE("the server going away is reported by pump") {
  Recorder rec;
  auto server = std::make_unique<FakeRfbServer>(320, 200, "pw");
  auto c = RfbConnection::open(target(*server, "pw"), RfbOptions{}, rec);
  REQUIRE(c.has_value());
  REQUIRE(pump_until(**c, [&] { return covered(rec.rects) >= 320L * 200; }));
  server.reset();
  bool lost = false;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!lost && std::chrono::steady_clock::now() < until) {
    pollfd p{(*c)->fd(), POLLIN, 0};
    poll(&p, 1, 100);
    lost = !(*c)->pump();
  }
  CHECK(lost);
}

TEST_CASE("screenshots are PNGs of the framebuffer") {
  std::vector<std::uint32_t> px(4 * 3, 0x00FF8000U);
  auto path = std::string(LABDESK_BINARY_DIR) + "/viewer-png-test.png";
  REQUIRE(write_png(path, reinterpret_cast<const std::uint8_t*>(px.data()), 4, 3, 16).has_value());
  FILE* f = std::fopen(path.c_str(), "rb");
  REQUIRE(f != nullptr);
  unsigned char sig[8] = {};
  CHECK(std::fread(sig, 1, 8, f) == 8);
  std::fclose(f);
  CHECK(std::memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0);
  CHECK_FALSE(write_png("/nonexistent-dir/x.png", reinterpret_cast<const std::uint8_t*>(px.data()), 4, 3, 16));
}
