// One named logger per component, created by main and passed down (no global registry lookups
// in library code).
#pragma once

#include <memory>
#include <string>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>

namespace labdesk::log {

enum class Format { text, json };

// A logger writing to stderr: "2026-11-21T10:00:00.123Z info agent: message".
std::shared_ptr<spdlog::logger> make_logger(const std::string& component,
                                            spdlog::level::level_enum level = spdlog::level::info,
                                            Format format = Format::text);

// The formatter make_logger uses: the message's control characters and broken UTF-8 escaped (and,
// for JSON lines, its quotes), so text a lab PC sent cannot forge a line.
std::unique_ptr<spdlog::formatter> make_formatter(Format format);

// Parses "trace|debug|info|warn|error|off"; throws labdesk::Failure naming the bad value.
spdlog::level::level_enum parse_level(const std::string& text);

}  // namespace labdesk::log
