// The student's keys and pointer, sent to the desktop on screen as RFB key and pointer events.
#pragma once

#include <deque>

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
  Outcome replay(RfbConnection& conn, const Ui& ui, const Sdl& sdl, bool sign_out_allowed);
  void drop_held() { held_.clear(); }
  [[nodiscard]] std::size_t held() const { return held_.size(); }
  // Tells a new connection where the pointer is; `ui` null before the window exists.
  void sync_pointer(RfbConnection& conn, const Ui* ui) const;

 private:
  Outcome key_down(const SDL_Keysym& ks, RfbConnection& conn, bool sign_out_allowed);
  void button(const SDL_MouseButtonEvent& b, bool down, RfbConnection& conn, const Ui& ui);
  void wheel(const SDL_MouseWheelEvent& w, RfbConnection& conn, const Ui& ui, const Sdl& sdl) const;

  static constexpr std::size_t kHeldKeys = 512;
  KeyTracker keys_;
  int buttons_ = 0;
  std::deque<SDL_Event> held_;
};

}  // namespace labdesk::viewer
