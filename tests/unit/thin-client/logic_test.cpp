#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include <SDL2/SDL_keycode.h>
#include <rfb/keysym.h>

#include "fake_clock.hpp"
#include "labdesk/viewer/backoff.hpp"
#include "labdesk/viewer/geometry.hpp"
#include "labdesk/viewer/keymap.hpp"
#include "labdesk/viewer/repeat_log.hpp"

using namespace labdesk::viewer;

TEST_CASE("backoff grows to its cap, stays within jitter, and resets") {
  Backoff b(BackoffPolicy{Millis{200}, Millis{4000}, 2.0, 0.2}, 7);
  std::vector<long> d;
  for (int i = 0; i < 8; ++i) d.push_back(b.next().count());
  CHECK(d[0] >= 160);
  CHECK(d[0] <= 240);
  CHECK(d[1] >= 320);
  CHECK(d[1] <= 480);
  for (int i = 5; i < 8; ++i) {  // 200·2^5 = 6400 > cap
    CHECK(d[static_cast<size_t>(i)] >= 3200);
    CHECK(d[static_cast<size_t>(i)] <= 4800);
  }
  CHECK(b.attempts() == 8);
  b.reset();
  CHECK(b.next().count() <= 240);
}

TEST_CASE("two lab PCs with different seeds do not retry in lockstep") {
  Backoff a({}, 1), b({}, 2);
  int same = 0;
  for (int i = 0; i < 6; ++i) same += a.next() == b.next() ? 1 : 0;
  CHECK(same < 6);
}

TEST_CASE("a refusing desktop is logged on the first try, then on tries 2, 4, 8 and 16 only") {
  RepeatLog log;
  std::vector<unsigned> logged;
  for (int i = 0; i < 20; ++i) {
    if (auto n = log.failed("10.0.0.5:5901")) logged.push_back(*n);
  }
  CHECK(logged == std::vector<unsigned>{1, 2, 4, 8, 16});
  CHECK(log.succeeded() == 20);
  CHECK(log.succeeded() == 0);
  CHECK(log.failed("10.0.0.5:5901") == std::optional<unsigned>{1});  // a new run after the success
}

TEST_CASE("a failure at another desktop starts its own run") {
  RepeatLog log;
  CHECK(log.failed("a:5900") == std::optional<unsigned>{1});
  CHECK(log.failed("a:5900") == std::optional<unsigned>{2});
  CHECK(!log.failed("a:5900").has_value());
  CHECK(log.failed("b:5900") == std::optional<unsigned>{1});
  CHECK(log.succeeded() == 1);
}

TEST_CASE("fit keeps the aspect ratio and letterboxes") {
  CHECK(fit(1024, 768, 1024, 768) == Rect{0, 0, 1024, 768});
  CHECK(fit(800, 600, 1920, 1080) == Rect{240, 0, 1440, 1080});  // pillarbox
  CHECK(fit(1280, 720, 1024, 768) == Rect{0, 96, 1024, 576});    // letterbox
  CHECK(fit(640, 480, 1280, 960) == Rect{0, 0, 1280, 960});      // exact 2:1
  CHECK(fit(640, 480, 1920, 1080, 1.0) == Rect{640, 300, 640, 480});
  CHECK(fit(0, 480, 100, 100).empty());
}

TEST_CASE("window positions map to desktop pixels, clamped in the letterbox") {
  Rect view = fit(800, 600, 1920, 1080);  // {240,0,1440,1080}, scale 1.8
  CHECK(to_desktop(view, 800, 600, {240, 0}) == Point{0, 0});
  CHECK(to_desktop(view, 800, 600, {1679, 1079}) == Point{799, 599});
  CHECK(to_desktop(view, 800, 600, {960, 540}) == Point{400, 300});
  CHECK(to_desktop(view, 800, 600, {10, 540}) == Point{0, 300});      // left letterbox
  CHECK(to_desktop(view, 800, 600, {1919, 540}) == Point{799, 300});  // right letterbox
}

TEST_CASE("a one-colour picture is told apart from a real one, padding ignored") {
  const int w = 5, h = 3, stride = 6 * 4;  // one pixel of row padding
  std::vector<std::uint8_t> px(static_cast<std::size_t>(stride) * h, 0);
  auto set = [&](int x, int y, std::uint32_t v) { std::memcpy(px.data() + y * stride + x * 4, &v, 4); };
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) set(x, y, 0xFF00AA00U);  // X byte set: ignored
    set(5, y, 0x123456U);                                 // padding: ignored
  }
  CHECK(uniform_colour(px.data(), w, h, stride) == std::optional<std::uint32_t>(0x00AA00U));
  set(4, 2, 0x00AA01U);  // the last pixel differs
  CHECK_FALSE(uniform_colour(px.data(), w, h, stride).has_value());
  std::vector<std::uint8_t> black(static_cast<std::size_t>(stride) * h, 0);
  CHECK(uniform_colour(black.data(), w, h, stride) == std::optional<std::uint32_t>(0U));
  CHECK_FALSE(uniform_colour(nullptr, w, h, stride).has_value());
}

TEST_CASE("dirty region clips, merges overlaps and collapses when fragmented") {
  DirtyRegion d(4);
  d.set_bounds(100, 100);
  d.add({90, 90, 20, 20});
  d.add({-5, 0, 10, 10});
  auto r = d.take();
  REQUIRE(r.size() == 2);
  CHECK(r[0] == Rect{90, 90, 10, 10});
  CHECK(r[1] == Rect{0, 0, 5, 10});
  CHECK(d.empty());

  d.add({0, 0, 10, 10});
  d.add({5, 5, 10, 10});   // overlaps the first
  d.add({15, 0, 5, 5});    // touches the union's edge
  r = d.take();
  REQUIRE(r.size() == 1);
  CHECK(r[0] == Rect{0, 0, 20, 15});

  for (int i = 0; i < 5; ++i) d.add({i * 20, i * 20, 2, 2});  // 5 far apart > max 4
  r = d.take();
  REQUIRE(r.size() == 1);
  CHECK(r[0] == Rect{0, 0, 82, 82});
  d.add({200, 200, 5, 5});
  CHECK(d.empty());
}

TEST_CASE("keysyms follow shift and caps lock with a US layout") {
  CHECK(keysym_for(SDLK_a, KMOD_NONE) == 'a');
  CHECK(keysym_for(SDLK_a, KMOD_LSHIFT) == 'A');
  CHECK(keysym_for(SDLK_a, KMOD_CAPS) == 'A');
  CHECK(keysym_for(SDLK_a, KMOD_CAPS | KMOD_RSHIFT) == 'a');
  CHECK(keysym_for(SDLK_c, KMOD_LCTRL) == 'c');
  CHECK(keysym_for(SDLK_1, KMOD_SHIFT) == '!');
  CHECK(keysym_for(SDLK_SLASH, KMOD_LSHIFT) == '?');
  CHECK(keysym_for(SDLK_SPACE, KMOD_NONE) == ' ');
  CHECK(keysym_for(SDLK_RETURN, KMOD_NONE) == XK_Return);
  CHECK(keysym_for(SDLK_F5, KMOD_NONE) == XK_F5);
  CHECK(keysym_for(SDLK_F12, KMOD_NONE) == XK_F12);
  CHECK(keysym_for(SDLK_LCTRL, KMOD_NONE) == XK_Control_L);
  CHECK(keysym_for(SDLK_RALT, KMOD_NONE) == XK_ISO_Level3_Shift);
  CHECK(keysym_for(SDLK_KP_5, KMOD_NUM) == XK_KP_5);
  CHECK(keysym_for(SDLK_KP_5, KMOD_NONE) == XK_KP_Begin);
  CHECK(keysym_for(0xe9, KMOD_NONE) == 0xe9);           // é
  CHECK(keysym_for(0x20ac, KMOD_NONE) == 0x010020acU);  // €
  CHECK_FALSE(keysym_for(SDLK_AUDIOMUTE, KMOD_NONE).has_value());
}

TEST_CASE("a key is released with the keysym it was pressed with, repeats resend it") {
  KeyTracker k;
  CHECK(k.down(4, SDLK_a, KMOD_LSHIFT) == 'A');
  CHECK(k.down(4, SDLK_a, KMOD_LSHIFT) == 'A');  // auto-repeat
  CHECK(k.up(4) == 'A');                         // shift already released: still 'A'
  CHECK_FALSE(k.up(4).has_value());
  k.down(224, SDLK_LCTRL, KMOD_NONE);
  k.down(6, SDLK_c, KMOD_LCTRL);
  auto held = k.release_all();
  CHECK(held.size() == 2);
  CHECK(k.release_all().empty());
}
