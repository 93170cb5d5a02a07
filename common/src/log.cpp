#include "labdesk/common/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include "labdesk/common/error.hpp"

namespace labdesk::log {

std::shared_ptr<spdlog::logger> make_logger(const std::string& component,
                                            spdlog::level::level_enum level, Format format) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(component, sink);
  if (format == Format::json) {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","component":"%n","msg":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %n: %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(level);
  return logger;
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
