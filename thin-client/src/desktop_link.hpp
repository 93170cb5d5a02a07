// The link to the desktop: one RFB connection at a time, the watch on its socket, and when its
// picture may replace the one on screen (the first-frame gate) or which parts of it changed.
// The window side learns of pictures through LinkListener; the session machine stays with the
// event loop, which asks the link to open, pump and drop.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "labdesk/viewer/first_frame.hpp"
#include "labdesk/viewer/geometry.hpp"
#include "labdesk/viewer/repeat_log.hpp"
#include "labdesk/viewer/viewer_stats.hpp"
#include "rfb_connection.hpp"
#include "signals.hpp"
#include "socket_watch.hpp"

namespace labdesk::viewer {

class LinkListener {
 public:
  virtual ~LinkListener() = default;
  // Right after the handshake, before anything is read.
  virtual void connected(RfbConnection& conn) = 0;
  // The new connection's first complete picture may be shown (the display is open).
  virtual void picture_ready() = 0;
  // Parts of the picture on screen changed.
  virtual void picture_changed(const std::vector<Rect>& rects) = 0;
  // The desktop on screen changed size (a guest's mode switch): everything is new.
  virtual void desktop_resized(int w, int h) = 0;
  virtual void clipboard_received(const std::string& latin1) = 0;
};

class DesktopLink final : public RfbListener {
 public:
  enum class Pump { no_link, ok, lost };

  DesktopLink(const RfbOptions& opt, const Clock& clock, std::shared_ptr<EventSink> sink,
              std::shared_ptr<spdlog::logger> log, ViewerStats& stats, LinkListener& listener)
      : opt_(opt), clock_(clock), sink_(std::move(sink)), log_(std::move(log)), stats_(stats), listener_(listener) {}
  ~DesktopLink() override { drop(); }
  DesktopLink(const DesktopLink&) = delete;
  DesktopLink& operator=(const DesktopLink&) = delete;

  // Drops the current link and opens one to `t`; false when that failed (logged sparingly).
  // `app_started`: for the start-up timing in the debug log.
  bool open(const Target& t, Millis app_started);
  void drop();
  // Handles what the server has sent; `lost` (logged) when the connection is gone.
  Pump pump();
  // Whether a socket wake-up (Events::rfb) is for the current connection.
  [[nodiscard]] bool current(Sint32 generation) const { return generation == generation_ && conn_; }
  // The socket has been drained: wake the UI again when more arrives.
  void rearm();

  // The window exists: complete pictures go to picture_ready() from now on.
  void display_opened() { display_open_ = true; }
  // A complete picture decoded before the window existed is waiting to be shown.
  [[nodiscard]] bool picture_waiting() const { return frame_waiting_ && conn_ && gate_.fresh(); }
  // Still reading towards the new connection's first complete picture.
  [[nodiscard]] bool awaiting_picture() const { return conn_ && gate_.fresh() && !frame_waiting_; }
  // The new connection's picture replaces the one on screen: returns ms since connecting.
  long show();
  [[nodiscard]] bool fresh() const { return gate_.fresh(); }
  [[nodiscard]] bool grace_over() const { return gate_.grace_over(clock_.now()); }
  [[nodiscard]] std::optional<Millis> gate_deadline() const { return gate_.deadline(); }
  [[nodiscard]] Millis connect_started() const { return connect_started_; }
  [[nodiscard]] RfbConnection* conn() const { return conn_.get(); }
  // The connection whose picture is on screen, if any.
  [[nodiscard]] const RfbConnection* on_screen() const { return conn_ && !gate_.fresh() ? conn_.get() : nullptr; }

  // RfbListener
  void on_resize(int w, int h) override;
  void on_rect(const Rect& r) override;
  void on_update_done() override;
  void on_clipboard(const std::string& latin1) override { listener_.clipboard_received(latin1); }

 private:
  void log_failure(const Target& t, const std::string& message);
  void fresh_update();

  static constexpr Millis kBlackGrace{2000};  // QEMU may first send a stale black surface: wait this long
  const RfbOptions& opt_;
  const Clock& clock_;
  std::shared_ptr<EventSink> sink_;
  std::shared_ptr<spdlog::logger> log_;
  ViewerStats& stats_;
  LinkListener& listener_;
  std::unique_ptr<RfbConnection> conn_;
  std::unique_ptr<SocketWatch> watch_;
  std::int32_t generation_ = 0;
  RepeatLog connect_failures_;  // a refusing desktop is retried every 0.2-4 s: not one line each
  DirtyRegion dirty_;
  FirstFrameGate gate_{kBlackGrace};  // the new connection's picture: when it may be shown
  Millis connect_started_{};
  bool frame_waiting_ = false;  // first full frame decoded before the window existed: shown once it does
  bool display_open_ = false;
};

}  // namespace labdesk::viewer
