// SDL keycodes + modifiers -> X11 keysyms (what RFB key events carry).
// Pure: uses SDL's keycode constants only (no SDL calls), so it is unit-tested without a display.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace labdesk::viewer {

// The keysym for a key press. Printable keys follow the shift/caps state with a US layout for
// shifted symbols (what QEMU's default en-us keymap and Xvnc expect); returns nullopt for keys
// with no keysym.
std::optional<std::uint32_t> keysym_for(std::int32_t sdl_keycode, std::uint16_t sdl_mod);

// Remembers which keysym each physical key sent when pressed, so its release sends the same
// keysym even if a modifier changed in between (else the server sees a key stuck down).
class KeyTracker {
 public:
  // Press (or auto-repeat: the same keysym again, as X does). nullopt: nothing to send.
  std::optional<std::uint32_t> down(std::int32_t scancode, std::int32_t keycode, std::uint16_t mod);
  std::optional<std::uint32_t> up(std::int32_t scancode);
  // Everything still held (sent as releases when the window loses focus or the link changes).
  std::vector<std::uint32_t> release_all();

 private:
  std::unordered_map<std::int32_t, std::uint32_t> held_;
};

}  // namespace labdesk::viewer
