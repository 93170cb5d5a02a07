#include "labdesk/viewer/keymap.hpp"

#include <SDL2/SDL_keycode.h>
#include <rfb/keysym.h>

#include <string_view>

namespace labdesk::viewer {
namespace {

// US layout: the character a shifted key produces.
char shifted(char c) {
  constexpr std::string_view plain = "1234567890-=[]\\;',./`";
  constexpr std::string_view shift = "!@#$%^&*()_+{}|:\"<>?~";
  auto i = plain.find(c);
  return i == std::string_view::npos ? c : shift[i];
}

std::optional<std::uint32_t> special(std::int32_t k, bool numlock) {
  switch (k) {
    case SDLK_RETURN: return XK_Return;
    case SDLK_ESCAPE: return XK_Escape;
    case SDLK_BACKSPACE: return XK_BackSpace;
    case SDLK_TAB: return XK_Tab;
    case SDLK_DELETE: return XK_Delete;
    case SDLK_INSERT: return XK_Insert;
    case SDLK_HOME: return XK_Home;
    case SDLK_END: return XK_End;
    case SDLK_PAGEUP: return XK_Page_Up;
    case SDLK_PAGEDOWN: return XK_Page_Down;
    case SDLK_LEFT: return XK_Left;
    case SDLK_RIGHT: return XK_Right;
    case SDLK_UP: return XK_Up;
    case SDLK_DOWN: return XK_Down;
    case SDLK_LSHIFT: return XK_Shift_L;
    case SDLK_RSHIFT: return XK_Shift_R;
    case SDLK_LCTRL: return XK_Control_L;
    case SDLK_RCTRL: return XK_Control_R;
    case SDLK_LALT: return XK_Alt_L;
    case SDLK_RALT: return XK_ISO_Level3_Shift;  // AltGr on European layouts
    case SDLK_LGUI: return XK_Super_L;
    case SDLK_RGUI: return XK_Super_R;
    case SDLK_CAPSLOCK: return XK_Caps_Lock;
    case SDLK_NUMLOCKCLEAR: return XK_Num_Lock;
    case SDLK_SCROLLLOCK: return XK_Scroll_Lock;
    case SDLK_PRINTSCREEN: return XK_Print;
    case SDLK_PAUSE: return XK_Pause;
    case SDLK_APPLICATION: return XK_Menu;
    case SDLK_KP_ENTER: return XK_KP_Enter;
    case SDLK_KP_PLUS: return XK_KP_Add;
    case SDLK_KP_MINUS: return XK_KP_Subtract;
    case SDLK_KP_MULTIPLY: return XK_KP_Multiply;
    case SDLK_KP_DIVIDE: return XK_KP_Divide;
    case SDLK_KP_PERIOD: return numlock ? XK_KP_Decimal : XK_KP_Delete;
    case SDLK_KP_EQUALS: return XK_KP_Equal;
    default: break;
  }
  if (k >= SDLK_F1 && k <= SDLK_F12) return static_cast<std::uint32_t>(XK_F1 + (k - SDLK_F1));
  if (k >= SDLK_KP_1 && k <= SDLK_KP_9) {
    if (numlock) return static_cast<std::uint32_t>(XK_KP_1 + (k - SDLK_KP_1));
    constexpr std::uint32_t nav[] = {XK_KP_End,  XK_KP_Down,  XK_KP_Page_Down,
                                     XK_KP_Left, XK_KP_Begin, XK_KP_Right,
                                     XK_KP_Home, XK_KP_Up,    XK_KP_Page_Up};
    return nav[k - SDLK_KP_1];
  }
  if (k == SDLK_KP_0) return numlock ? XK_KP_0 : XK_KP_Insert;
  return std::nullopt;
}

}  // namespace

std::optional<std::uint32_t> keysym_for(std::int32_t k, std::uint16_t mod) {
  bool shift = (mod & KMOD_SHIFT) != 0;
  bool caps = (mod & KMOD_CAPS) != 0;
  if (auto s = special(k, (mod & KMOD_NUM) != 0)) return s;
  if (k >= 'a' && k <= 'z') {
    return static_cast<std::uint32_t>((shift != caps) ? k - 'a' + 'A' : k);
  }
  if (k >= 0x20 && k < 0x7f) {
    char c = static_cast<char>(k);
    return static_cast<std::uint32_t>(static_cast<unsigned char>(shift ? shifted(c) : c));
  }
  // Other Unicode keycodes (layouts with é, ß, …): X keysyms for Latin-1 equal the code point,
  // beyond that X uses 0x01000000 + code point.
  if (k >= 0xa0 && k <= 0xff) return static_cast<std::uint32_t>(k);
  if (k > 0xff && (k & SDLK_SCANCODE_MASK) == 0) return 0x01000000U + static_cast<std::uint32_t>(k);
  return std::nullopt;
}

std::optional<std::uint32_t> KeyTracker::down(std::int32_t scancode, std::int32_t keycode,
                                              std::uint16_t mod) {
  if (auto it = held_.find(scancode); it != held_.end()) return it->second;  // auto-repeat
  auto sym = keysym_for(keycode, mod);
  if (sym) held_[scancode] = *sym;
  return sym;
}

std::optional<std::uint32_t> KeyTracker::up(std::int32_t scancode) {
  auto it = held_.find(scancode);
  if (it == held_.end()) return std::nullopt;
  auto sym = it->second;
  held_.erase(it);
  return sym;
}

std::vector<std::uint32_t> KeyTracker::release_all() {
  std::vector<std::uint32_t> out;
  for (const auto& [scan, sym] : held_) out.push_back(sym);
  held_.clear();
  return out;
}

}  // namespace labdesk::viewer
