// The viewer's session state machine, free of SDL, RFB and HTTP: the driver (app.cpp) feeds it
// what happened and performs the command it returns.
//
//   login ─submit─▶ logging_in ─ok─▶ connecting ─first frame─▶ connected
//     ▲                 │fail                ▲   │fail                │ lost
//     └─── message ◀────┘                    │   ▼                    ▼
//                                            └─ reconnecting (backoff, fresh credential)
//   connected ─moved─▶ following (old desktop stays on screen) ─first frame─▶ connected
//   any ─ended─▶ ended
#pragma once

#include <optional>
#include <string>

#include "labdesk/viewer/backoff.hpp"
#include "labdesk/viewer/clock.hpp"
#include "labdesk/viewer/session_api.hpp"

namespace labdesk::viewer {

enum class Phase { login, logging_in, connecting, connected, reconnecting, following, ended };
const char* to_string(Phase p);

// What the driver must do now.
enum class Command {
  none,
  login,             // call SessionApi::login with the submitted user/password
  connect,           // open RFB to target() (keep the current picture until its first frame)
  fetch_credential,  // call SessionApi::credential, then report credential_ok/failed
  show_login,        // show the login screen with message()
  quit,              // the session is over; message() says why
};

struct Target {
  api::Endpoint endpoint;
  std::string vnc_password;
  friend bool operator==(const Target&, const Target&) = default;
};

class SessionMachine {
 public:
  // `brokered`: a boot-server is there to ask for fresh credentials (false for --vnc direct).
  SessionMachine(const Clock& clock, bool brokered, BackoffPolicy policy = {}, std::uint32_t seed = 1);

  // Starting points.
  Command submit(std::string user, std::string password);
  Command direct(Target target);  // --vnc: no login, no boot-server

  Command login_ok(const api::LoginResponse& r);
  Command login_failed(const LoginError& e);
  Command first_frame();
  Command connect_failed();
  Command connection_lost();
  Command credential_ok(const api::Credential& c);
  Command credential_failed(const Error& e);
  Command event(const api::Event& e);
  // Timers: the next retry or queued login. Call when next_deadline() has passed.
  Command tick();
  [[nodiscard]] std::optional<Millis> next_deadline() const { return deadline_; }

  [[nodiscard]] Phase phase() const { return phase_; }
  [[nodiscard]] const Target& target() const { return target_; }
  [[nodiscard]] const std::string& message() const { return message_; }
  [[nodiscard]] const std::string& user() const { return user_; }
  [[nodiscard]] const std::string& password() const { return password_; }
  [[nodiscard]] const std::string& session() const { return session_; }
  [[nodiscard]] const std::string& token() const { return token_; }
  [[nodiscard]] std::uint64_t last_event_seq() const { return last_seq_; }
  [[nodiscard]] unsigned reconnect_attempts() const { return backoff_.attempts(); }
  // What the boot-server said about a desktop that is away (a "notice"), until it is back.
  [[nodiscard]] const std::string& notice() const { return notice_; }
  // When the link was lost (for "reconnecting… 12 s" in the overlay).
  [[nodiscard]] std::optional<Millis> lost_since() const { return lost_since_; }

 private:
  Command schedule_retry();
  Command end(std::string why);
  Command back_to_login(std::string why);

  const Clock& clock_;
  bool brokered_;
  Backoff backoff_;
  Phase phase_ = Phase::login;
  Target target_;
  std::string message_, user_, password_, session_, token_, notice_;
  std::uint64_t last_seq_ = 0;
  std::optional<Millis> deadline_;
  std::optional<Millis> lost_since_;
  bool queued_ = false;  // no_capacity: the login is retried until a desktop is free
};

// The sentence a student reads for a failed login.
std::string login_message(const Error& e, std::optional<std::uint32_t> queue_position);

}  // namespace labdesk::viewer
