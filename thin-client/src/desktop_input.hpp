// The student's keys and pointer, sent to the desktop on screen as RFB key and pointer events.
#pragma once

#include <chrono>
#include <deque>
#include <optional>

#include "labdesk/viewer/keymap.hpp"
#include "rfb_connection.hpp"
#include "sdl_api.hpp"
#include "ui.hpp"

namespace labdesk::viewer {

class DesktopInput {
 public:
  enum class Outcome { sent, sign_out };

  // A key, mouse or wheel event over the desktop. With `sign_out_allowed` (a lab API to sign out
  // of), the sign-out chord is not sent: held keys are released and sign_out is returned.
  Outcome handle(const SDL_Event& e, RfbConnection& conn, const Ui& ui, const Sdl& sdl, bool sign_out_allowed);
  // Releases every held key on the desktop (the window lost focus, the student signs out).
  void release_keys(RfbConnection& conn);
  // The link is gone, and the server dropped the held keys with it.
  void forget_keys();
  // Keys typed while no desktop is on screen (a move being followed, a reconnect) are kept in
  // order and sent to the next desktop once its picture shows, so that none is lost; pointer
  // events are not (the picture they aimed at is gone). At most kHeldKeys; older ones go first.
  void hold(const SDL_Event& e);
  // Sends the oldest held key event (one at a time: a burst overflows the guest's 16-byte PS/2
  // queue, and QEMU drops what does not fit).
  Outcome replay_one(RfbConnection& conn, const Ui& ui, const Sdl& sdl, bool sign_out_allowed);
  void drop_held() {
    held_.clear();
    holding_since_.reset();
  }
  // Keys are held even with a desktop on screen (its live migration started: keys reaching it in
  // its last pause would be lost), until the desktop shows on its new host or the move is off;
  // never longer than kHoldAtMost, should the end of the move never be told.
  void hold_keys(bool on) { holding_since_ = on ? std::optional(std::chrono::steady_clock::now()) : std::nullopt; }
  [[nodiscard]] bool holding_keys() const {
    return holding_since_ && std::chrono::steady_clock::now() - *holding_since_ < kHoldAtMost;
  }
  [[nodiscard]] std::size_t held() const { return held_.size(); }
  // Tells a new connection where the pointer is; `ui` null before the window exists.
  void sync_pointer(RfbConnection& conn, const Ui* ui) const;

 private:
  Outcome key_down(const SDL_Keysym& ks, RfbConnection& conn, bool sign_out_allowed);
  void button(const SDL_MouseButtonEvent& b, bool down, RfbConnection& conn, const Ui& ui);
  void wheel(const SDL_MouseWheelEvent& w, RfbConnection& conn, const Ui& ui, const Sdl& sdl) const;

  static constexpr std::size_t kHeldKeys = 512;
  static constexpr std::chrono::seconds kHoldAtMost{120};
  std::optional<std::chrono::steady_clock::time_point> holding_since_;
  KeyTracker keys_;
  int buttons_ = 0;
  std::deque<SDL_Event> held_;
};

}  // namespace labdesk::viewer
