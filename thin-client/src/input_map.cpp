#include "labdesk/viewer/input_map.hpp"

#include <SDL2/SDL_keycode.h>
#include <SDL2/SDL_mouse.h>

namespace labdesk::viewer {

int button_bit(std::uint8_t sdl_button) {
  return sdl_button == SDL_BUTTON_LEFT ? 1 : sdl_button == SDL_BUTTON_MIDDLE ? 2
       : sdl_button == SDL_BUTTON_RIGHT ? 4 : 0;
}

int wheel_bit(std::int32_t wheel_x, std::int32_t wheel_y) {
  return wheel_y > 0 ? 8 : wheel_y < 0 ? 16 : wheel_x < 0 ? 32 : 64;
}

bool is_sign_out_chord(std::int32_t sdl_keycode, std::uint16_t sdl_mod) {
  return (sdl_mod & KMOD_CTRL) && (sdl_mod & KMOD_ALT) && (sdl_mod & KMOD_SHIFT) && sdl_keycode == SDLK_q;
}

}  // namespace labdesk::viewer
