#include "desktop_input.hpp"

#include "labdesk/viewer/input_map.hpp"

namespace labdesk::viewer {

DesktopInput::Outcome DesktopInput::handle(const SDL_Event& e, RfbConnection& conn, const Ui& ui, const Sdl& sdl,
                                           bool sign_out_allowed) {
  switch (e.type) {
    case SDL_KEYDOWN: return key_down(e.key.keysym, conn, sign_out_allowed);
    case SDL_KEYUP:
      if (auto sym = keys_.up(e.key.keysym.scancode)) conn.key(*sym, false);
      break;
    case SDL_MOUSEMOTION: {
      auto p = to_desktop(ui.view(), conn.width(), conn.height(), {e.motion.x, e.motion.y});
      conn.pointer(p.x, p.y, buttons_);
      break;
    }
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP: button(e.button, e.type == SDL_MOUSEBUTTONDOWN, conn, ui); break;
    case SDL_MOUSEWHEEL: wheel(e.wheel, conn, ui, sdl); break;
    default: break;
  }
  return Outcome::sent;
}

DesktopInput::Outcome DesktopInput::key_down(const SDL_Keysym& ks, RfbConnection& conn, bool sign_out_allowed) {
  if (is_sign_out_chord(ks.sym, ks.mod) && sign_out_allowed) {
    release_keys(conn);
    return Outcome::sign_out;
  }
  if (auto sym = keys_.down(ks.scancode, ks.sym, ks.mod)) conn.key(*sym, true);
  return Outcome::sent;
}

void DesktopInput::button(const SDL_MouseButtonEvent& b, bool down, RfbConnection& conn, const Ui& ui) {
  int bit = button_bit(b.button);
  buttons_ = down ? (buttons_ | bit) : (buttons_ & ~bit);
  auto p = to_desktop(ui.view(), conn.width(), conn.height(), {b.x, b.y});
  conn.pointer(p.x, p.y, buttons_);
}

// A wheel step is a press and release of its button where the pointer is.
void DesktopInput::wheel(const SDL_MouseWheelEvent& w, RfbConnection& conn, const Ui& ui, const Sdl& sdl) const {
  int x = 0, y = 0;
  sdl.SDL_GetMouseState(&x, &y);
  auto p = to_desktop(ui.view(), conn.width(), conn.height(), {x, y});
  int bit = wheel_bit(w.x, w.y);
  conn.pointer(p.x, p.y, buttons_ | bit);
  conn.pointer(p.x, p.y, buttons_);
}

void DesktopInput::release_keys(RfbConnection& conn) {
  for (auto k : keys_.release_all()) conn.key(k, false);
}

void DesktopInput::hold(const SDL_Event& e) {
  if (e.type != SDL_KEYDOWN && e.type != SDL_KEYUP) return;
  if (held_.size() == kHeldKeys) held_.pop_front();
  held_.push_back(e);
}

DesktopInput::Outcome DesktopInput::replay_one(RfbConnection& conn, const Ui& ui, const Sdl& sdl, bool sign_out_allowed) {
  if (held_.empty()) return Outcome::sent;
  SDL_Event e = held_.front();
  held_.pop_front();
  if (handle(e, conn, ui, sdl, sign_out_allowed) == Outcome::sign_out) {
    held_.clear();
    return Outcome::sign_out;
  }
  return Outcome::sent;
}

void DesktopInput::forget_keys() {
  for (auto k : keys_.release_all()) (void)k;
}

// Besides keeping the desktop's pointer where the student's is, QEMU shortens its refresh
// interval on input, so the first picture comes on its next 30 ms tick instead of the idle one
// ~85 ms after connecting (TigerVNC gets the same from its clipboard reply). Before the window
// exists (the first connect, while SDL starts) the pointer is not known yet: the desktop's centre
// stands in for it (where an X server puts the pointer at start) and the real position follows
// once the window is open; waiting for the window made the picture wait for SDL's start-up.
void DesktopInput::sync_pointer(RfbConnection& conn, const Ui* ui) const {
  Point p{conn.width() / 2, conn.height() / 2};
  if (ui)
    p = to_desktop(fit(conn.width(), conn.height(), ui->output_w(), ui->output_h()), conn.width(), conn.height(),
                   ui->mouse());
  conn.pointer(p.x, p.y, buttons_);
}

}  // namespace labdesk::viewer
