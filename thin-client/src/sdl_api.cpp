#include "sdl_api.hpp"

#include <dlfcn.h>

#include <string>

namespace labdesk::viewer {
namespace {

Result<void*> open_library(const char* soname, const char* package) {
  if (void* h = dlopen(soname, RTLD_NOW | RTLD_LOCAL)) return h;
  const char* why = dlerror();
  return fail("no_sdl", std::string("cannot load '") + soname + "': " + (why ? why : "unknown error") +
                            " (install the Debian package '" + package + "')", 500);
}

}  // namespace

Result<std::unique_ptr<const Sdl>> Sdl::open(const char* sdl_soname, const char* ttf_soname) {
  auto sdl = open_library(sdl_soname, "libsdl2-2.0-0");
  if (!sdl) return std::unexpected(sdl.error());
  auto ttf = open_library(ttf_soname, "libsdl2-ttf-2.0-0");
  if (!ttf) return std::unexpected(ttf.error());
  auto t = std::make_unique<Sdl>();
  std::string missing;
  auto resolve = [&missing](void* lib, auto& slot, const char* name) {
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(dlsym(lib, name));
    if (!slot) missing += std::string(missing.empty() ? "" : ", ") + "'" + name + "'";
  };
#define LABDESK_SDL_RESOLVE(name) resolve(*sdl, t->name, #name);
  LABDESK_SDL_FUNCTIONS(LABDESK_SDL_RESOLVE)
#undef LABDESK_SDL_RESOLVE
#define LABDESK_TTF_RESOLVE(name) resolve(*ttf, t->name, #name);
  LABDESK_TTF_FUNCTIONS(LABDESK_TTF_RESOLVE)
#undef LABDESK_TTF_RESOLVE
  if (!missing.empty())
    return fail("no_sdl", "the installed SDL2 or SDL2_ttf lacks " + missing + " (older than the SDL the viewer was built with: install libsdl2-2.0-0 and libsdl2-ttf-2.0-0 from Debian 12 or later)", 500);
  return std::unique_ptr<const Sdl>(std::move(t));
}

}  // namespace labdesk::viewer
