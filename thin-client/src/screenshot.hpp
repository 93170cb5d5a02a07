// --screenshot: a PNG of the desktop after its first full frame, and again on SIGUSR1.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "labdesk/viewer/clock.hpp"
#include "rfb_connection.hpp"

namespace labdesk::viewer {

class Screenshot {
 public:
  // `path` empty (no --screenshot): no first screenshot, and one on SIGUSR1 fails (logged).
  Screenshot(std::string path, const Clock& clock, std::shared_ptr<spdlog::logger> log)
      : path_(std::move(path)), clock_(clock), log_(std::move(log)) {}

  // A first full frame is on screen: the first screenshot is due (once per run).
  void first_frame(const RfbConnection* on_screen);
  // Writes the due first screenshot if it may be taken now; `on_screen` null: no desktop shown.
  void first_if_ready(const RfbConnection* on_screen);
  // Writes one now (SIGUSR1).
  void take(const RfbConnection* on_screen);
  // When a due first screenshot is taken even if the desktop stays one colour.
  [[nodiscard]] std::optional<Millis> deadline() const;

 private:
  std::string path_;
  const Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  bool taken_ = false;
  std::optional<Millis> due_;  // first full frame shown, first screenshot not written yet
};

}  // namespace labdesk::viewer
