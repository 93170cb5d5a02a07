#include "labdesk/viewer/login_form.hpp"

#include <SDL2/SDL_keycode.h>

namespace labdesk::viewer {
namespace {

std::string& focused(LoginForm& f) { return f.focus == 0 ? f.user : f.password; }

}  // namespace

FormEdit type_text(LoginForm& f, std::string_view text) {
  focused(f) += text;
  return FormEdit::edited;
}

FormEdit press_key(LoginForm& f, std::int32_t sdl_keycode) {
  auto k = sdl_keycode;
  std::string& field = focused(f);
  if (k == SDLK_BACKSPACE && !field.empty()) {
    // One character: its continuation bytes, then the byte that leads them.
    for (;;) {
      const auto c = static_cast<unsigned char>(field.back());
      field.pop_back();
      if ((c & 0xC0U) != 0x80U || field.empty()) break;
    }
  } else if (k == SDLK_TAB || (k == SDLK_RETURN && f.focus == 0)) {
    f.focus = 1 - f.focus;
  } else if ((k == SDLK_RETURN || k == SDLK_KP_ENTER) && !f.user.empty()) {
    f.message.clear();
    return FormEdit::submit;
  }
  return FormEdit::edited;
}

}  // namespace labdesk::viewer
