// The dashboard in a real browser: headless Chromium loads it from the boot-server's HTTP server,
// runs its JavaScript against the admin API, and we check what it rendered and its screenshot.
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../../../unit/boot-server/broker/broker_lab.hpp"
#include "labdesk/http/client.hpp"

using namespace labdesk;

namespace {

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf{};
  while (auto n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  pclose(p);
  return out;
}

std::string chromium(const std::filesystem::path& profile, const std::string& what, const std::string& url) {
  return "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
         "--disable-background-networking --disable-component-update --disable-sync "
         "--user-data-dir=" + profile.string() + " --window-size=1280,800 "
         "--virtual-time-budget=5000 " + what + " '" + url + "' 2>/dev/null";
}

}  // namespace

TEST_CASE("dashboard: hosts, desktops, sessions and events render in headless Chromium") {
  test::ServedLab lab;
  http::Client c(lab.url());
  for (const char* u : {"alice", "bob", "carol"}) {
    REQUIRE(c.post_json("/v1/login", {{"user", u}, {"password", std::string(u) + "-pw"}, {"client_id", std::string("pc-") + u}}).has_value());
  }
  auto dir = std::filesystem::temp_directory_path() / ("labdesk-dash-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string url = lab.url() + "/#token=admin-token";
  auto dom = run(chromium(dir / "p1", "--dump-dom", url));
  CHECK(dom.find("data-loaded=\"1\"") != std::string::npos);
  for (const char* want : {"host0", "host1", "alice", "bob", "carol", "pc-carol", "handoff", "2048 MiB"}) {
    CAPTURE(want);
    CHECK(dom.find(want) != std::string::npos);
  }
  // Each host has its maintenance button (drain, or undrain once drained).
  CHECK(dom.find("<button class=\"drain\" data-host=\"host0\">drain</button>") != std::string::npos);
  auto png = dir / "dashboard.png";
  run(chromium(dir / "p2", "--screenshot=" + png.string(), url));
  REQUIRE(std::filesystem::exists(png));
  // A rendered page has many colours (bars, text); a blank or error page has a handful.
  auto colours = run("identify -format %k " + png.string());
  CHECK(std::stoi(colours) > 50);
  if (const char* keep = std::getenv("LABDESK_KEEP_SCREENSHOT")) {
    std::filesystem::copy_file(png, keep, std::filesystem::copy_options::overwrite_existing);
  }
  std::filesystem::remove_all(dir);
}
