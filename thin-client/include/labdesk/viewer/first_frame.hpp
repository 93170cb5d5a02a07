// When a new connection's picture may replace the one on screen (no black gap, ever): once every
// pixel has been decoded since connecting, and, if the picture is all black (QEMU's stale first
// surface), not before `black_grace` has passed. Pure: time comes in from the caller.
#pragma once

#include <optional>

#include "labdesk/viewer/clock.hpp"

namespace labdesk::viewer {

class FirstFrameGate {
 public:
  explicit FirstFrameGate(Millis black_grace = Millis{2000}) : grace_(black_grace) {}

  // A new connection at `now`: nothing of its picture decoded yet.
  void connected(Millis now);
  // The desktop changed size: what was decoded so far no longer covers it.
  void resized() { covered_ = 0; }
  // A rectangle of `pixels` was decoded (counted only while the connection is fresh).
  void decoded(long pixels);
  // Whether the decoded rectangles cover a desktop of `area` pixels.
  [[nodiscard]] bool complete(long area) const { return covered_ >= area; }
  // Whether a complete picture that is all black may be shown now.
  [[nodiscard]] bool black_allowed(Millis now) const { return now - connected_at_ >= grace_; }
  // Something was decoded and the grace is over: show what there is, black or not.
  [[nodiscard]] bool grace_over(Millis now) const { return fresh_ && covered_ > 0 && black_allowed(now); }
  // When grace_over() turns true (to wake the event loop), if it can.
  [[nodiscard]] std::optional<Millis> deadline() const;
  // The picture is on screen (or the connection is gone): nothing fresh any more.
  void shown() { fresh_ = false; }
  [[nodiscard]] bool fresh() const { return fresh_; }
  [[nodiscard]] long covered() const { return covered_; }
  [[nodiscard]] Millis since_connect(Millis now) const { return now - connected_at_; }

 private:
  Millis grace_;
  Millis connected_at_{};
  bool fresh_ = false;
  long covered_ = 0;
};

}  // namespace labdesk::viewer
