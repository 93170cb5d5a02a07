// SDL pointer buttons and wheel steps -> RFB button masks; the sign-out chord.
#include <doctest/doctest.h>

#include <SDL2/SDL_keycode.h>
#include <SDL2/SDL_mouse.h>

#include "labdesk/viewer/input_map.hpp"

using namespace labdesk::viewer;

TEST_CASE("pointer: SDL buttons map to RFB mask bits, extra buttons to none") {
  CHECK(button_bit(SDL_BUTTON_LEFT) == 1);
  CHECK(button_bit(SDL_BUTTON_MIDDLE) == 2);
  CHECK(button_bit(SDL_BUTTON_RIGHT) == 4);
  CHECK(button_bit(SDL_BUTTON_X1) == 0);
  CHECK(button_bit(SDL_BUTTON_X2) == 0);
}

TEST_CASE("pointer: a wheel step is X buttons 4-7, vertical before horizontal") {
  CHECK(wheel_bit(0, 1) == 8);
  CHECK(wheel_bit(0, -3) == 16);
  CHECK(wheel_bit(-1, 0) == 32);
  CHECK(wheel_bit(1, 0) == 64);
  CHECK(wheel_bit(1, 1) == 8);
}

TEST_CASE("the sign-out chord is Ctrl+Alt+Shift+Q, either side, and nothing less") {
  CHECK(is_sign_out_chord(SDLK_q, KMOD_LCTRL | KMOD_LALT | KMOD_LSHIFT));
  CHECK(is_sign_out_chord(SDLK_q, KMOD_RCTRL | KMOD_RALT | KMOD_RSHIFT | KMOD_NUM));
  CHECK_FALSE(is_sign_out_chord(SDLK_q, KMOD_LCTRL | KMOD_LALT));
  CHECK_FALSE(is_sign_out_chord(SDLK_q, KMOD_LCTRL | KMOD_LSHIFT));
  CHECK_FALSE(is_sign_out_chord(SDLK_w, KMOD_LCTRL | KMOD_LALT | KMOD_LSHIFT));
}
