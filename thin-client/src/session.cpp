#include "labdesk/viewer/session.hpp"

namespace labdesk::viewer {

namespace {
constexpr Millis kQueueRetry{5000};
}

const char* to_string(Phase p) {
  switch (p) {
    case Phase::login: return "login";
    case Phase::logging_in: return "logging_in";
    case Phase::connecting: return "connecting";
    case Phase::connected: return "connected";
    case Phase::reconnecting: return "reconnecting";
    case Phase::following: return "following";
    case Phase::ended: return "ended";
  }
  return "?";
}

std::string login_message(const Error& e, std::optional<std::uint32_t> queue_position) {
  if (e.code == api::code::bad_credentials) return "Wrong user name or password. Please try again.";
  if (e.code == api::code::no_capacity) {
    std::string m = "All desktops are busy right now.";
    if (queue_position) m += " You are number " + std::to_string(*queue_position) + " in the queue.";
    return m + " Waiting for a free desktop...";
  }
  if (e.code == api::code::rate_limited) return "Too many attempts. Please wait a minute and try again.";
  if (e.code == kUnreachable)
    return "The lab server cannot be reached. Check the network cable, or ask the lab admin.";
  return "Sign-in failed: " + e.message;
}

SessionMachine::SessionMachine(const Clock& clock, bool brokered, BackoffPolicy policy,
                               std::uint32_t seed)
    : clock_(clock), brokered_(brokered), backoff_(policy, seed) {}

Command SessionMachine::submit(std::string user, std::string password) {
  if (phase_ != Phase::login) return Command::none;
  user_ = std::move(user);
  password_ = std::move(password);
  phase_ = Phase::logging_in;
  deadline_.reset();
  return Command::login;
}

Command SessionMachine::direct(Target target) {
  brokered_ = false;
  target_ = std::move(target);
  phase_ = Phase::connecting;
  return Command::connect;
}

Command SessionMachine::login_ok(const api::LoginResponse& r) {
  if (phase_ != Phase::logging_in) return Command::none;
  session_ = r.session;
  token_ = r.token;
  target_ = Target{r.endpoint, r.vnc_password};
  password_.clear();  // not kept in memory longer than needed
  queued_ = false;
  message_.clear();
  phase_ = Phase::connecting;
  deadline_.reset();
  return Command::connect;
}

Command SessionMachine::login_failed(const LoginError& e) {
  if (phase_ != Phase::logging_in) return Command::none;
  message_ = login_message(e.error, e.queue_position);
  phase_ = Phase::login;
  queued_ = e.error.code == api::code::no_capacity;
  if (queued_) {
    deadline_ = clock_.now() + kQueueRetry;  // keep the place in the queue without user action
  } else {
    password_.clear();
    deadline_.reset();
  }
  return Command::show_login;
}

Command SessionMachine::first_frame() {
  if (phase_ != Phase::connecting && phase_ != Phase::following && phase_ != Phase::reconnecting)
    return Command::none;
  phase_ = Phase::connected;
  backoff_.reset();
  deadline_.reset();
  lost_since_.reset();
  message_.clear();
  notice_.clear();
  return Command::none;
}

Command SessionMachine::schedule_retry() {
  phase_ = Phase::reconnecting;
  if (!lost_since_) lost_since_ = clock_.now();
  deadline_ = clock_.now() + backoff_.next();
  return Command::none;
}

Command SessionMachine::connect_failed() {
  if (phase_ == Phase::ended || phase_ == Phase::login || phase_ == Phase::logging_in)
    return Command::none;
  return schedule_retry();
}

Command SessionMachine::connection_lost() {
  if (phase_ == Phase::ended || phase_ == Phase::login || phase_ == Phase::logging_in)
    return Command::none;
  // Following a move the old link was dropped on purpose before connecting to the new desktop,
  // so a link lost now is the new one (QEMU can drop a client in its first milliseconds):
  // retry as after any loss. Waiting here for a first frame that could not come left the lab
  // PC on the old desktop's frozen picture for good.
  message_ = "Connection lost. Reconnecting...";
  return schedule_retry();
}

Command SessionMachine::tick() {
  if (!deadline_ || clock_.now() < *deadline_) return Command::none;
  deadline_.reset();
  if (phase_ == Phase::login && queued_) {
    phase_ = Phase::logging_in;
    return Command::login;
  }
  if (phase_ != Phase::reconnecting) return Command::none;
  return brokered_ ? Command::fetch_credential : Command::connect;
}

Command SessionMachine::credential_ok(const api::Credential& c) {
  if (phase_ != Phase::reconnecting) return Command::none;
  target_ = Target{c.endpoint, c.vnc_password};
  return Command::connect;
}

Command SessionMachine::credential_failed(const Error& e) {
  if (phase_ != Phase::reconnecting) return Command::none;
  if (e.code == api::code::session_gone) return end("Your session has ended.");
  if (e.code == api::code::bad_token) return back_to_login("Your sign-in expired. Please sign in again.");
  // The boot-server is unreachable (often the same cut link): the forward and the console
  // password may still be good, so try the last known target anyway.
  return Command::connect;
}

Command SessionMachine::event(const api::Event& e) {
  if (e.seq <= last_seq_) return Command::none;  // long-poll replays are harmless
  last_seq_ = e.seq;
  if (e.type == api::event_type::ended) return end(e.reason.value_or("Your session has ended."));
  if (e.type == api::event_type::notice) {
    notice_ = e.reason.value_or("");
    return Command::none;
  }
  if (e.type == api::event_type::moved && e.endpoint) {
    if (phase_ == Phase::ended || phase_ == Phase::login || phase_ == Phase::logging_in)
      return Command::none;
    target_ = Target{*e.endpoint, e.vnc_password.value_or(target_.vnc_password)};
    phase_ = Phase::following;
    deadline_.reset();
    return Command::connect;
  }
  return Command::none;
}

Command SessionMachine::end(std::string why) {
  phase_ = Phase::ended;
  message_ = std::move(why);
  deadline_.reset();
  return Command::quit;
}

Command SessionMachine::back_to_login(std::string why) {
  phase_ = Phase::login;
  message_ = std::move(why);
  session_.clear();
  token_.clear();
  deadline_.reset();
  lost_since_.reset();
  return Command::show_login;
}

}  // namespace labdesk::viewer
