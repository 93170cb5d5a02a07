// The login form's editing keys (SDL keycodes as numbers: no display needed).
#include <doctest/doctest.h>

#include <SDL2/SDL_keycode.h>

#include "labdesk/viewer/login_form.hpp"

using namespace labdesk::viewer;

TEST_CASE("login form: text goes into the focused field, Tab and Return move the focus") {
  LoginForm f;
  CHECK(type_text(f, "ana") == FormEdit::edited);
  CHECK(f.user == "ana");
  CHECK(press_key(f, SDLK_RETURN) == FormEdit::edited);  // Return in the user field: to the password
  CHECK(f.focus == 1);
  type_text(f, "pw");
  CHECK(f.password == "pw");
  CHECK(f.user == "ana");
  CHECK(press_key(f, SDLK_TAB) == FormEdit::edited);
  CHECK(f.focus == 0);
  press_key(f, SDLK_TAB);
  CHECK(f.focus == 1);
  CHECK(press_key(f, SDLK_a) == FormEdit::edited);  // redrawn, nothing changed
  CHECK(f.password == "pw");
}

TEST_CASE("login form: backspace edits the focused field") {
  LoginForm f;
  type_text(f, "ana");
  f.focus = 1;
  type_text(f, "pw");
  CHECK(press_key(f, SDLK_BACKSPACE) == FormEdit::edited);
  CHECK(f.password == "p");
  CHECK(f.user == "ana");
  for (int i = 0; i < 3; ++i) CHECK(press_key(f, SDLK_BACKSPACE) == FormEdit::edited);
  CHECK(f.password.empty());  // an empty field stays empty
  CHECK(f.user == "ana");
}

TEST_CASE("login form: backspace removes a whole character, not one byte of it") {
  LoginForm f;
  type_text(f, "jos\xC3\xA9");           // josé
  press_key(f, SDLK_BACKSPACE);
  CHECK(f.user == "jos");
  type_text(f, "\xE2\x82\xAC\xF0\x9F\x99\x82");  // € and a 4-byte emoji
  press_key(f, SDLK_BACKSPACE);
  CHECK(f.user == "jos\xE2\x82\xAC");
  press_key(f, SDLK_BACKSPACE);
  CHECK(f.user == "jos");
  f.user = "\xA9";  // a stray continuation byte alone still goes
  press_key(f, SDLK_BACKSPACE);
  CHECK(f.user.empty());
}

TEST_CASE("login form: Return in the password field submits once a user is typed") {
  LoginForm f;
  f.focus = 1;
  f.message = "Wrong password.";
  type_text(f, "pw");
  CHECK(press_key(f, SDLK_RETURN) == FormEdit::edited);  // no user: nothing to submit
  CHECK(f.message == "Wrong password.");
  f.user = "ana";
  CHECK(press_key(f, SDLK_RETURN) == FormEdit::submit);
  CHECK(f.message.empty());
  CHECK(f.password == "pw");  // the caller submits it, then clears it
}

TEST_CASE("login form: keypad Enter submits from either field") {
  LoginForm f;
  type_text(f, "ana");
  CHECK(press_key(f, SDLK_KP_ENTER) == FormEdit::submit);
  CHECK(f.focus == 0);
}
