#include "labdesk/common/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "labdesk/common/error.hpp"
#include "labdesk/common/text.hpp"

namespace labdesk::log {
namespace {

// The message with control characters and broken UTF-8 escaped (and quotes, for JSON lines): a
// MAC or user name sent by a lab PC cannot start a forged log line or break a JSON log.
class EscapedPayload final : public spdlog::custom_flag_formatter {
 public:
  explicit EscapedPayload(bool json) : json_(json) {}
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string_view raw(msg.payload.data(), msg.payload.size());
    const std::string safe = json_ ? json_escaped(raw) : printable(raw);
    dest.append(safe.data(), safe.data() + safe.size());
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedPayload>(json_);
  }

 private:
  bool json_;
};

}  // namespace

std::shared_ptr<spdlog::logger> make_logger(const std::string& component,
                                            spdlog::level::level_enum level, Format format) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(component, sink);
  logger->set_formatter(make_formatter(format));
  logger->set_level(level);
  return logger;
}

std::unique_ptr<spdlog::formatter> make_formatter(Format format) {
  const bool json = format == Format::json;
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<EscapedPayload>('*', json).set_pattern(
      json ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","component":"%n","msg":"%*"})"
           : "%Y-%m-%dT%H:%M:%S.%eZ %l %n: %*");
  return formatter;
}

spdlog::level::level_enum parse_level(const std::string& text) {
  for (auto l : {spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
                 spdlog::level::warn, spdlog::level::err, spdlog::level::off}) {
    // spdlog spells them "warning" and "error"; accept the short names the message offers too.
    if (spdlog::level::to_string_view(l) == text || (l == spdlog::level::err && text == "error") ||
        (l == spdlog::level::warn && text == "warn")) {
      return l;
    }
  }
  throw Failure(Error{"bad_log_level",
                      "unknown log level '" + text +
                          "': use one of trace, debug, info, warn, error, off",
                      400});
}

}  // namespace labdesk::log
