#include <doctest/doctest.h>

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/sinks/null_sink.h>

#include "../../common/golden.hpp"
#include "app/netplane_routes.hpp"
#include "../fixtures.hpp"
#include "labdesk/common/error.hpp"
#include "labdesk/http/client.hpp"
#include "labdesk/http/server.hpp"
#include "pxe/cpio.hpp"
#include "pxe/render.hpp"
#include "tls/lab_ca.hpp"

namespace {

using namespace labdesk;
namespace fs = std::filesystem;

std::shared_ptr<spdlog::logger> quiet() { return std::make_shared<spdlog::logger>("tls-test", std::make_shared<spdlog::sinks::null_sink_mt>()); }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

unsigned mode_of(const fs::path& p) {
  struct stat st{};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("labdesk-tls-" + std::to_string(::getpid()));
  TempDir() { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
};

TEST_CASE("the own lab CA: made once, keys private, a certificate for the lab address that chains to it") {
  TempDir t;
  auto log = quiet();
  const auto f = boot::ensure_own_lab_tls(t.path / "tls", {"10.77.0.1"}, *log);
  CHECK(mode_of(t.path / "tls") == 0700);
  CHECK(mode_of(t.path / "tls/ca.key") == 0600);
  CHECK(mode_of(f.key) == 0600);
  CHECK(boot::certificate_valid_for(slurp(f.cert), slurp(f.ca), "10.77.0.1"));
  CHECK_FALSE(boot::certificate_valid_for(slurp(f.cert), slurp(f.ca), "10.77.0.2"));
  CHECK_FALSE(boot::certificate_valid_for(slurp(f.ca), slurp(f.ca), "10.77.0.1"));

  const std::string ca = slurp(f.ca), cert = slurp(f.cert);
  boot::ensure_own_lab_tls(t.path / "tls", {"10.77.0.1"}, *log);
  CHECK(slurp(f.ca) == ca);
  CHECK(slurp(f.cert) == cert);  // nothing to renew: the same certificate

  // The lab moved to another address: a new certificate from the same CA (lab PCs keep trusting).
  boot::ensure_own_lab_tls(t.path / "tls", {"10.88.0.1"}, *log);
  CHECK(slurp(f.ca) == ca);
  CHECK(slurp(f.cert) != cert);
  CHECK(boot::certificate_valid_for(slurp(f.cert), ca, "10.88.0.1"));
}

TEST_CASE("a lab CA with a file missing is not silently replaced (every PC trusts the old one)") {
  TempDir t;
  auto log = quiet();
  boot::ensure_own_lab_tls(t.path / "tls", {"10.77.0.1"}, *log);
  fs::remove(t.path / "tls/ca.key");
  try {
    boot::ensure_own_lab_tls(t.path / "tls", {"10.77.0.1"}, *log);
    FAIL("an incomplete CA was accepted");
  } catch (const Failure& e) {
    CHECK(std::string(e.what()).find("incomplete or unreadable") != std::string::npos);
  }
}

TEST_CASE("HTTPS with the own lab CA: a client trusting the CA gets in, one without it does not") {
  TempDir t;
  auto log = quiet();
  const auto f = boot::ensure_own_lab_tls(t.path / "tls", {"127.0.0.1"}, *log);
  boost::asio::io_context io;
  http::Router r;
  r.add("GET", "/v1/ping", [](const http::Request&) { return http::Response::json({{"pong", true}}); }, http::Auth::none);
  http::ServerOptions opt;
  opt.tls = http::TlsFiles{f.cert, f.key};
  http::Server srv(io, opt, std::move(r), log);
  srv.start();
  auto work = boost::asio::make_work_guard(io);
  std::thread th([&] { io.run(); });
  const std::string url = "https://127.0.0.1:" + std::to_string(srv.port());
  http::Client trusting(url, {.timeout = std::chrono::milliseconds(3000), .ca_file = f.ca});
  auto ok = trusting.get_json("/v1/ping");
  CHECK_MESSAGE(ok.has_value(), (ok ? "" : ok.error().message));
  http::Client stranger(url, {.timeout = std::chrono::milliseconds(3000)});
  CHECK_FALSE(stranger.get_json("/v1/ping").has_value());
  srv.stop();
  work.reset();
  io.stop();
  th.join();
}

TEST_CASE("console certificates for QEMU's VNC TLS: libvirt's file layout, from the lab CA") {
  TempDir t;
  auto log = quiet();
  const auto f = boot::ensure_own_lab_tls(t.path / "tls", {"10.77.0.1"}, *log);
  boot::issue_console_certificate(t.path / "tls", {"10.77.0.1", "virt-a.lab"}, t.path / "vnc");
  CHECK(slurp(t.path / "vnc/ca-cert.pem") == slurp(f.ca));
  CHECK(mode_of(t.path / "vnc/server-key.pem") == 0600);
  const std::string cert = slurp(t.path / "vnc/server-cert.pem");
  CHECK(boot::certificate_valid_for(cert, slurp(f.ca), "10.77.0.1"));
  CHECK(boot::certificate_valid_for(cert, slurp(f.ca), "virt-a.lab"));
  CHECK_FALSE(boot::certificate_valid_for(cert, slurp(f.ca), "virt-b.lab"));
  CHECK_THROWS_AS(boot::issue_console_certificate(t.path / "nothing", {"10.77.0.1"}, t.path / "x"), Failure);
}

TEST_CASE("lab-ca.cpio.gz is a gzip-compressed newc archive the kernel (and gzip, cpio) unpacks to etc/tc/lab-ca.pem") {
  TempDir t;
  fs::create_directories(t.path / "out");
  const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  const std::string archive = boot::render_lab_ca_archive(pem);
  REQUIRE(archive.size() > 2);
  CHECK(static_cast<unsigned char>(archive[0]) == 0x1f);  // gzip: the kernel finds it at any offset
  CHECK(static_cast<unsigned char>(archive[1]) == 0x8b);
  CHECK(archive == boot::render_lab_ca_archive(pem));  // deterministic
  std::ofstream(t.path / "a.cpio.gz", std::ios::binary) << archive;
  const std::string cmd = "cd " + (t.path / "out").string() + " && gzip -dc ../a.cpio.gz | cpio -id --quiet";
  REQUIRE(std::system(cmd.c_str()) == 0);
  CHECK(slurp(t.path / "out/etc/tc/lab-ca.pem") == pem);
  // TLS off: a valid archive with nothing in it, so the boot script stays the same.
  std::ofstream(t.path / "empty.cpio.gz", std::ios::binary) << boot::render_lab_ca_archive("");
  const std::string list = "gzip -dc " + (t.path / "empty.cpio.gz").string() + " | cpio -t --quiet > " + (t.path / "list").string();
  REQUIRE(std::system(list.c_str()) == 0);
  CHECK(slurp(t.path / "list").empty());
}

TEST_CASE("with TLS on, the lab API on plain HTTP answers 403 naming the HTTPS address, and boot.ipxe hands out both") {
  auto c = test::lab();
  REQUIRE(c.tls.enabled);
  CHECK(boot::lab_api_url(c) == "https://10.77.0.1:8443");
  http::Router lab;
  boot::add_https_required(lab, boot::lab_api_url(c));
  auto log = quiet();
  for (auto [method, path] : {std::pair{"POST", "/v1/login"}, {"POST", "/v1/sessions/s1/credential"}, {"GET", "/v1/sessions/s1/events"}}) {
    http::Request q;
    q.method = method;
    q.path = path;
    auto res = http::answer_in_process(lab, q, "", *log, std::chrono::milliseconds(100));
    CHECK(res.status == 403);
    CHECK(res.body.find("https_required") != std::string::npos);
    CHECK(res.body.find("https://10.77.0.1:8443") != std::string::npos);
  }
  const std::string script = boot::render_boot_script("", boot::boot_script_vars(c, "0123456789abcdef"));
  CHECK(script.find("labdesk.server=https://10.77.0.1:8443") != std::string::npos);
  CHECK(script.find("initrd=initrd.cpio.gz initrd=lab-ca.cpio.gz") != std::string::npos);
  CHECK(script.find("initrd http://10.77.0.1:8080/lab-ca.cpio.gz") != std::string::npos);
  auto off = test::lab("\n[tls]\nenabled = false\n");
  CHECK(boot::lab_api_url(off) == "http://10.77.0.1:8080");
}

TEST_CASE("config: [tls] cert, key and ca go together, the port must be free") {
  auto problems = [](const std::string& extra) {
    try {
      test::lab(extra);
      return std::string();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
  };
  CHECK(problems("\n[tls]\ncert = \"/etc/labdesk/lab.crt\"\n").find("tls.cert and tls.key go together") != std::string::npos);
  CHECK(problems("\n[tls]\ncert = \"/a\"\nkey = \"/b\"\n").find("tls.ca is empty") != std::string::npos);
  CHECK(problems("\n[tls]\nca = \"/a\"\n").find("tls.ca is set without") != std::string::npos);
  CHECK(problems("\n[tls]\nport = 8080\n").find("tls.port 8080 must be") != std::string::npos);
  CHECK(problems("\n[tls]\nport = 15901\n").find("lies in the forward ports") != std::string::npos);
  CHECK(problems("\n[tls]\ncert = \"/a\"\nkey = \"/b\"\nca = \"/c\"\n").empty());
}

}  // namespace
