// The login screen's form and how keys edit it. Pure: SDL keycodes come in as numbers, so the
// editing is unit-tested without a display.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace labdesk::viewer {

struct LoginForm {
  std::string user, password;
  int focus = 0;  // 0 user, 1 password
  std::string message;
  bool busy = false;  // "Signing in…"
};

enum class FormEdit {
  ignored,  // not an edit: nothing to redraw
  edited,   // redraw the form
  submit,   // redraw, and log in as the form says (the message is already cleared)
};

// Typed text goes into the focused field.
FormEdit type_text(LoginForm& f, std::string_view text);
// Backspace, Tab, Return and keypad Enter; any other key changes nothing but is still redrawn.
FormEdit press_key(LoginForm& f, std::int32_t sdl_keycode);

}  // namespace labdesk::viewer
