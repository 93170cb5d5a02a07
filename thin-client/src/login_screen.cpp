#include "login_screen.hpp"

#include <thread>

namespace labdesk::viewer {

FormEdit LoginScreen::edit(const SDL_Event& e) {
  if (e.type == SDL_TEXTINPUT) return type_text(form_, e.text.text);
  if (e.type == SDL_KEYDOWN) return press_key(form_, e.key.keysym.sym);
  return FormEdit::ignored;
}

Command LoginScreen::start(SessionMachine& m, bool on_screen, std::unique_ptr<EventPoller>& poller) {
  form_.busy = true;
  api::LoginRequest req{m.user(), m.password(), client_id_};
  // Before the display exists (--user: the connect helper) nothing is on screen to freeze.
  if (!on_screen) return finish(m, api_->login(req), poller);
  // With the login screen up, the answer (seconds while a desktop starts, up to the API's
  // timeout) must not freeze it: a helper asks and posts the answer to the UI thread.
  std::thread([api = api_, sink = sink_, req = std::move(req), generation = ++generation_] {
    sink->post(&Events::api, kLoginAnswer, std::make_unique<LoginAnswer>(LoginAnswer{generation, api->login(req)}));
  }).detach();
  return Command::none;
}

std::optional<Command> LoginScreen::answered(const SDL_Event& e, SessionMachine& m,
                                             std::unique_ptr<EventPoller>& poller) {
  std::unique_ptr<LoginAnswer> answer(static_cast<LoginAnswer*>(e.user.data1));
  if (answer->generation != generation_ || m.phase() != Phase::logging_in) return std::nullopt;
  return finish(m, std::move(answer->result), poller);
}

Command LoginScreen::finish(SessionMachine& m, LoginResult r, std::unique_ptr<EventPoller>& poller) {
  form_.busy = false;
  if (!r) {
    log_->warn("login as '{}' failed: {} ({})", m.user(), r.error().error.message, r.error().error.code);
    return m.login_failed(r.error());
  }
  log_->info("logged in as '{}': session '{}', desktop at '{}:{}', tier {} MiB", m.user(), r->session,
             r->endpoint.host, r->endpoint.port, r->tier_mib);
  auto cmd = m.login_ok(*r);
  poller = std::make_unique<EventPoller>(api_, r->session, r->token, 0, [sink = sink_](api::EventBatch b) {
    sink->post(&Events::api, kSessionEvents, std::make_unique<api::EventBatch>(std::move(b)));
  });
  return cmd;
}

void LoginScreen::restart(std::string message) {
  form_ = LoginForm{};
  form_.message = std::move(message);
}

}  // namespace labdesk::viewer
