// SDL pointer events -> RFB button masks, and the sign-out chord. Pure: SDL's constants only
// (no SDL calls), so it is unit-tested without a display.
#pragma once

#include <cstdint>

namespace labdesk::viewer {

// The RFB button-mask bit of an SDL mouse button (left 1, middle 2, right 4; others none).
int button_bit(std::uint8_t sdl_button);
// The RFB bit of one wheel step: up 8, down 16, left 32, right 64 (the X button numbers 4-7).
int wheel_bit(std::int32_t wheel_x, std::int32_t wheel_y);
// Ctrl+Alt+Shift+Q: the student signs out (never sent to the desktop).
bool is_sign_out_chord(std::int32_t sdl_keycode, std::uint16_t sdl_mod);

}  // namespace labdesk::viewer
