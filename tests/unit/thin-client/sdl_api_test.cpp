// The viewer opens SDL2 and SDL2_ttf with dlopen (thin-client/src/sdl_api.hpp): the installed
// libraries must provide every function of its table, and a missing one must say what to install.
#include <doctest/doctest.h>

#include <dlfcn.h>

#include <cstring>

#include "sdl_api.hpp"

using labdesk::viewer::Sdl;

TEST_CASE("the installed SDL2 and SDL2_ttf open with every function the viewer calls") {
  auto sdl = Sdl::open();
  REQUIRE_MESSAGE(sdl.has_value(), (sdl ? "" : sdl.error().message));
#define LABDESK_CHECK_RESOLVED(name) CHECK_MESSAGE(static_cast<bool>((*sdl)->name), #name);
  LABDESK_SDL_FUNCTIONS(LABDESK_CHECK_RESOLVED)
  LABDESK_TTF_FUNCTIONS(LABDESK_CHECK_RESOLVED)
#undef LABDESK_CHECK_RESOLVED
  // the pointers are SDL's own: a hint set through the table reads back through SDL itself
  CHECK((*sdl)->SDL_SetHint("LABDESK_TEST_HINT", "on") == SDL_TRUE);
  void* lib = dlopen(labdesk::viewer::kSdlLibrary, RTLD_NOW | RTLD_NOLOAD);  // the one Sdl::open loaded
  REQUIRE(lib != nullptr);
  auto get_hint = reinterpret_cast<const char* (*)(const char*)>(dlsym(lib, "SDL_GetHint"));
  REQUIRE(static_cast<bool>(get_hint));
  CHECK(std::strcmp(get_hint("LABDESK_TEST_HINT"), "on") == 0);
  dlclose(lib);  // only the reference taken here
}

TEST_CASE("a missing SDL library names itself and the Debian package to install") {
  auto r = Sdl::open("libSDL2-not-installed.so.0");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == "no_sdl");
  CHECK(r.error().message.find("'libSDL2-not-installed.so.0'") != std::string::npos);
  CHECK(r.error().message.find("'libsdl2-2.0-0'") != std::string::npos);
  auto t = Sdl::open(labdesk::viewer::kSdlLibrary, "libSDL2_ttf-not-installed.so.0");
  REQUIRE_FALSE(t.has_value());
  CHECK(t.error().message.find("'libsdl2-ttf-2.0-0'") != std::string::npos);
}
