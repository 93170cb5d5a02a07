// The login screen: the form the student types into, and the login it submits, asked off the UI
// thread so that the screen keeps drawing while the broker starts a desktop.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "event_poller.hpp"
#include "labdesk/viewer/login_form.hpp"
#include "labdesk/viewer/session.hpp"
#include "signals.hpp"

namespace labdesk::viewer {

// A login asked on a helper thread, posted back as a kLoginAnswer event.
struct LoginAnswer {
  unsigned generation = 0;
  LoginResult result;
};

class LoginScreen {
 public:
  LoginScreen(std::shared_ptr<SessionApi> api, std::shared_ptr<EventSink> sink, std::shared_ptr<spdlog::logger> log,
              std::string client_id)
      : api_(std::move(api)), sink_(std::move(sink)), log_(std::move(log)), client_id_(std::move(client_id)) {}

  [[nodiscard]] LoginForm& form() { return form_; }
  [[nodiscard]] const LoginForm& form() const { return form_; }
  // A text or key event while the form takes input.
  FormEdit edit(const SDL_Event& e);
  // Command::login as `m` has it. Nothing on screen yet (the connect helper with --user): asked
  // here and finished. Else a helper asks and posts a kLoginAnswer; Command::none until then.
  // A successful login starts `poller` on the new session's events.
  Command start(SessionMachine& m, bool on_screen, std::unique_ptr<EventPoller>& poller);
  // A kLoginAnswer event: the next command, or nothing when the answer was overtaken.
  std::optional<Command> answered(const SDL_Event& e, SessionMachine& m, std::unique_ptr<EventPoller>& poller);
  // A login in flight no longer counts (a quit overtook it).
  void overtake() { ++generation_; }
  // A fresh form for the next student, saying why the last session ended.
  void restart(std::string message);

 private:
  Command finish(SessionMachine& m, LoginResult r, std::unique_ptr<EventPoller>& poller);

  std::shared_ptr<SessionApi> api_;
  std::shared_ptr<EventSink> sink_;
  std::shared_ptr<spdlog::logger> log_;
  std::string client_id_;
  LoginForm form_;
  unsigned generation_ = 0;  // answers to an older login (a quit meanwhile) are dropped
};

}  // namespace labdesk::viewer
