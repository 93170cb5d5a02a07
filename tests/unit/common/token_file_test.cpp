// Token files (refused when others can read them, as ssh refuses keys) and log lines (text a lab
// PC sent cannot forge one).
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <spdlog/details/log_msg.h>

#include "labdesk/common/error.hpp"
#include "labdesk/common/log.hpp"
#include "labdesk/common/token_file.hpp"

using namespace labdesk;
namespace fs = std::filesystem;

TEST_CASE("a token file readable by group or others is refused with the chmod that fixes it") {
  auto dir = fs::temp_directory_path() / ("labdesk-token-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto path = (dir / "admin.token").string();
  std::ofstream(path) << "0123456789abcdef0123\n";
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  try {
    (void)read_token_file(path);
    FAIL("a world-readable token was accepted");
  } catch (const Failure& e) {
    CHECK(std::string(e.what()).find("mode 0604") != std::string::npos);
    CHECK(std::string(e.what()).find("chmod 600 " + path) != std::string::npos);
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  CHECK(read_token_file(path) == "0123456789abcdef0123");
  fs::remove_all(dir);
}

namespace {

std::string format_line(log::Format f, std::string_view text) {
  auto formatter = log::make_formatter(f);
  spdlog::details::log_msg msg("test", spdlog::level::warn, spdlog::string_view_t(text.data(), text.size()));
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  return std::string(out.data(), out.size());
}

}  // namespace

TEST_CASE("a log line stays one line whatever the message holds") {
  const std::string forged = "mac 'aa:bb'\n2026-01-01T00:00:00.000Z info boot-server: admin logged in \xff";
  auto text = format_line(log::Format::text, forged);
  CHECK(text.find('\n') == text.size() - 1);
  CHECK(text.find("aa:bb'\\n2026") != std::string::npos);
  CHECK(text.find("\\xff") != std::string::npos);
  auto js = format_line(log::Format::json, "client \"x\",\"level\":\"error\n");
  CHECK(js.find('\n') == js.size() - 1);
  auto j = nlohmann::json::parse(js);
  CHECK(j["level"] == "warning");
  CHECK(j["msg"] == "client \"x\",\"level\":\"error\n");  // the JSON string holds it escaped
}
