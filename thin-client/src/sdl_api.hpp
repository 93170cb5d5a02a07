// SDL2 and SDL2_ttf, opened with dlopen rather than linked. Debian's SDL2 brings ~50 shared
// libraries (X11, Wayland, libdecor, PulseAudio, ALSA, D-Bus, systemd…) and SDL2_ttf FreeType
// and HarfBuzz: linked, the dynamic loader maps and binds them all before main (~8 ms of a
// 2-core machine's CPU, twice what the rest of the viewer's libraries cost). Opened by the UI
// thread, they load while the connect helper is already talking to the desktop.
// The table lists every SDL function the viewer calls, typed from SDL's own declarations.
#pragma once

#include <SDL2/SDL.h>
#include <SDL2/SDL_ttf.h>

#include <memory>

#include "labdesk/common/error.hpp"

#define LABDESK_SDL_FUNCTIONS(X)                                                                     \
  X(SDL_Init) X(SDL_InitSubSystem) X(SDL_QuitSubSystem) X(SDL_Quit) X(SDL_GetError) X(SDL_SetHint) \
  X(SDL_RegisterEvents) X(SDL_PushEvent) X(SDL_PollEvent) X(SDL_PeepEvents) X(SDL_WaitEventTimeout) \
  X(SDL_StartTextInput) X(SDL_GetClipboardText) X(SDL_SetClipboardText) X(SDL_HasClipboardText)     \
  X(SDL_free) X(SDL_GetDisplayBounds) X(SDL_CreateWindow) X(SDL_DestroyWindow)                     \
  X(SDL_GetWindowPosition) X(SDL_GetGlobalMouseState) X(SDL_GetMouseState) X(SDL_CreateRenderer)   \
  X(SDL_DestroyRenderer) X(SDL_GetRendererOutputSize) X(SDL_CreateTexture)                         \
  X(SDL_CreateTextureFromSurface) X(SDL_DestroyTexture) X(SDL_UpdateTexture) X(SDL_FreeSurface)    \
  X(SDL_RenderClear) X(SDL_RenderCopy) X(SDL_RenderDrawRect) X(SDL_RenderFillRect)                 \
  X(SDL_RenderPresent) X(SDL_SetRenderDrawColor) X(SDL_SetRenderDrawBlendMode)
#define LABDESK_TTF_FUNCTIONS(X) \
  X(TTF_Init) X(TTF_Quit) X(TTF_OpenFont) X(TTF_CloseFont) X(TTF_RenderUTF8_Blended)

namespace labdesk::viewer {

// By soname, as the dynamic loader would find them linked; pxe-assets packs them by these names.
inline constexpr const char* kSdlLibrary = "libSDL2-2.0.so.0";
inline constexpr const char* kSdlTtfLibrary = "libSDL2_ttf-2.0.so.0";

struct Sdl {
#define LABDESK_SDL_POINTER(name) decltype(&::name) name = nullptr;
  LABDESK_SDL_FUNCTIONS(LABDESK_SDL_POINTER)
  LABDESK_TTF_FUNCTIONS(LABDESK_SDL_POINTER)
#undef LABDESK_SDL_POINTER

  // Opens both libraries and resolves the table. They stay loaded for the life of the process:
  // SDL keeps threads and X connections of its own that must not outlive its code.
  static Result<std::unique_ptr<const Sdl>> open(const char* sdl_soname = kSdlLibrary,
                                                 const char* ttf_soname = kSdlTtfLibrary);
};

}  // namespace labdesk::viewer
