#include <doctest/doctest.h>

#include "fake_clock.hpp"
#include "labdesk/viewer/session.hpp"

using namespace labdesk::viewer;
using labdesk::Error;
namespace api = labdesk::api::client;

namespace {
api::LoginResponse login_response() {
  return {"s-1", "tok", {"10.0.0.1", 5901}, "pw1", 2048};
}
}  // namespace

TEST_CASE("login, connect, first frame") {
  testing::FakeClock clock;
  SessionMachine m(clock, true);
  CHECK(m.phase() == Phase::login);
  CHECK(m.submit("ana", "secret") == Command::login);
  CHECK(m.phase() == Phase::logging_in);
  CHECK(m.submit("ana", "again") == Command::none);  // double Enter does not log in twice
  CHECK(m.login_ok(login_response()) == Command::connect);
  CHECK(m.phase() == Phase::connecting);
  CHECK(m.target() == Target{{"10.0.0.1", 5901}, "pw1"});
  CHECK(m.password().empty());
  CHECK(m.first_frame() == Command::none);
  CHECK(m.phase() == Phase::connected);
}

TEST_CASE("wrong password, rate limit and unreachable server give clear messages") {
  testing::FakeClock clock;
  SessionMachine m(clock, true);
  m.submit("ana", "bad");
  CHECK(m.login_failed({Error{"bad_credentials", "x", 401}, {}}) == Command::show_login);
  CHECK(m.phase() == Phase::login);
  CHECK(m.message() == "Wrong user name or password. Please try again.");
  CHECK_FALSE(m.next_deadline().has_value());
  m.submit("ana", "x");
  m.login_failed({Error{"rate_limited", "x", 429}, {}});
  CHECK(m.message().find("Too many attempts") == 0);
  m.submit("ana", "x");
  m.login_failed({Error{std::string(kUnreachable), "x", 0}, {}});
  CHECK(m.message().find("cannot be reached") != std::string::npos);
}

TEST_CASE("no capacity shows the queue position and retries the login by itself") {
  testing::FakeClock clock;
  SessionMachine m(clock, true);
  m.submit("ana", "pw");
  CHECK(m.login_failed({Error{"no_capacity", "x", 503}, 3U}) == Command::show_login);
  CHECK(m.message() == "All desktops are busy right now. You are number 3 in the queue. "
                       "Waiting for a free desktop...");
  CHECK(m.password() == "pw");  // kept for the automatic retry
  CHECK(m.tick() == Command::none);
  clock.advance(Millis{5000});
  CHECK(m.tick() == Command::login);
  CHECK(m.phase() == Phase::logging_in);
  CHECK(m.login_ok(login_response()) == Command::connect);
}

TEST_CASE("a lost link retries with backoff, fetching a fresh credential, same session") {
  testing::FakeClock clock;
  SessionMachine m(clock, true, BackoffPolicy{Millis{200}, Millis{4000}, 2.0, 0.0});
  m.submit("ana", "pw");
  m.login_ok(login_response());
  m.first_frame();
  CHECK(m.connection_lost() == Command::none);
  CHECK(m.phase() == Phase::reconnecting);
  CHECK(m.lost_since() == clock.now());
  CHECK(m.next_deadline() == clock.now() + Millis{200});
  CHECK(m.tick() == Command::none);
  clock.advance(Millis{200});
  CHECK(m.tick() == Command::fetch_credential);
  // boot-server unreachable too: try the last known target anyway
  CHECK(m.credential_failed(Error{std::string(kUnreachable), "x", 0}) == Command::connect);
  CHECK(m.connect_failed() == Command::none);
  CHECK(m.next_deadline() == clock.now() + Millis{400});
  clock.advance(Millis{400});
  CHECK(m.tick() == Command::fetch_credential);
  CHECK(m.credential_ok({{"10.0.0.1", 5901}, "pw2"}) == Command::connect);
  CHECK(m.target().vnc_password == "pw2");
  CHECK(m.session() == "s-1");
  m.first_frame();
  CHECK(m.phase() == Phase::connected);
  CHECK_FALSE(m.lost_since().has_value());
  m.connection_lost();
  CHECK(m.next_deadline() == clock.now() + Millis{200});  // backoff reset by the good connection
}

TEST_CASE("a notice while the desktop is away is kept for the overlay until the desktop is back") {
  testing::FakeClock clock;
  SessionMachine m(clock, true, BackoffPolicy{Millis{200}, Millis{4000}, 2.0, 0.0});
  m.submit("ana", "pw");
  m.login_ok(login_response());
  m.first_frame();
  m.connection_lost();
  api::Event notice{7, std::string(api::event_type::notice), std::nullopt, std::nullopt, "Starting a new desktop"};
  CHECK(m.event(notice) == Command::none);
  CHECK(m.phase() == Phase::reconnecting);  // the session goes on
  CHECK(m.notice() == "Starting a new desktop");
  api::Event moved{8, std::string(api::event_type::moved), api::Endpoint{"10.0.0.1", 15900}, "pw9", std::nullopt};
  CHECK(m.event(moved) == Command::connect);
  CHECK(m.notice() == "Starting a new desktop");
  m.first_frame();
  CHECK(m.notice().empty());
}

TEST_CASE("backoff is capped so a long outage is still retried every few seconds") {
  testing::FakeClock clock;
  SessionMachine m(clock, false, BackoffPolicy{Millis{200}, Millis{4000}, 2.0, 0.0});
  m.direct({{"127.0.0.1", 5900}, "pw"});
  m.connection_lost();
  for (int i = 0; i < 20; ++i) {
    clock.advance(*m.next_deadline() - clock.now());
    CHECK(m.tick() == Command::connect);  // direct mode: no boot-server to ask
    m.connect_failed();
  }
  CHECK(*m.next_deadline() - clock.now() == Millis{4000});
}

TEST_CASE("an ended or unknown session stops retrying") {
  testing::FakeClock clock;
  SessionMachine m(clock, true, BackoffPolicy{Millis{100}, Millis{100}, 2.0, 0.0});
  m.submit("ana", "pw");
  m.login_ok(login_response());
  m.first_frame();
  m.connection_lost();
  clock.advance(Millis{100});
  REQUIRE(m.tick() == Command::fetch_credential);
  CHECK(m.credential_failed(Error{"session_gone", "x", 404}) == Command::quit);
  CHECK(m.phase() == Phase::ended);
  CHECK_FALSE(m.next_deadline().has_value());
}

TEST_CASE("an expired token sends the student back to the login screen") {
  testing::FakeClock clock;
  SessionMachine m(clock, true, BackoffPolicy{Millis{100}, Millis{100}, 2.0, 0.0});
  m.submit("ana", "pw");
  m.login_ok(login_response());
  m.connect_failed();
  clock.advance(Millis{100});
  REQUIRE(m.tick() == Command::fetch_credential);
  CHECK(m.credential_failed(Error{"bad_token", "x", 401}) == Command::show_login);
  CHECK(m.phase() == Phase::login);
  CHECK(m.token().empty());
}

TEST_CASE("a move event is followed without user action") {
  testing::FakeClock clock;
  SessionMachine m(clock, true);
  m.submit("ana", "pw");
  m.login_ok(login_response());
  m.first_frame();
  api::Event moved{1, "moved", api::Endpoint{"10.0.0.2", 5905}, "pw9", {}};
  CHECK(m.event(moved) == Command::connect);
  CHECK(m.phase() == Phase::following);
  CHECK(m.target() == Target{{"10.0.0.2", 5905}, "pw9"});
  CHECK(m.event(moved) == Command::none);  // replayed seq
  CHECK(m.first_frame() == Command::none);
  CHECK(m.phase() == Phase::connected);
  CHECK(m.last_event_seq() == 1);
}

TEST_CASE("a move announced after the old desktop's link was lost keeps the time of the loss") {
  // The viewer's blackout figure starts there: a stop-first handoff stops the old desktop first.
  testing::FakeClock clock;
  SessionMachine m(clock, true);
  m.submit("ana", "pw");
  m.login_ok(login_response());
  m.first_frame();
  clock.advance(Millis{1000});
  m.connection_lost();
  const auto lost = m.lost_since();
  REQUIRE(lost.has_value());
  clock.advance(Millis{4000});
  REQUIRE(m.event(api::Event{5, "moved", api::Endpoint{"10.0.0.2", 5905}, "pw9", {}}) == Command::connect);
  CHECK(m.lost_since() == lost);
  CHECK(clock.now() - *m.lost_since() == Millis{4000});
  m.first_frame();
  CHECK_FALSE(m.lost_since().has_value());
}

TEST_CASE("the new desktop's link dropping while following a move is retried, not waited on for good") {
  testing::FakeClock clock;
  SessionMachine m(clock, true);
  m.submit("ana", "pw");
  m.login_ok(login_response());
  m.first_frame();
  REQUIRE(m.event(api::Event{3, "moved", api::Endpoint{"10.0.0.2", 5905}, "pw9", {}}) == Command::connect);
  // Connected to the new desktop, which drops the link before its first frame (seen in e2e.lab).
  m.connection_lost();
  CHECK(m.phase() == Phase::reconnecting);
  clock.advance(Millis{5000});
  REQUIRE(m.tick() == Command::fetch_credential);
  CHECK(m.credential_ok({{"10.0.0.2", 5905}, "pw10"}) == Command::connect);
  CHECK(m.target().vnc_password == "pw10");
  m.first_frame();
  CHECK(m.phase() == Phase::connected);
}

TEST_CASE("following a move that fails to connect falls back to reconnecting") {
  testing::FakeClock clock;
  SessionMachine m(clock, true);
  m.submit("ana", "pw");
  m.login_ok(login_response());
  m.first_frame();
  m.event(api::Event{4, "moved", api::Endpoint{"10.0.0.2", 5905}, {}, {}});
  CHECK(m.target().vnc_password == "pw1");  // no new password: keep the old one
  m.connect_failed();
  CHECK(m.phase() == Phase::reconnecting);
}

TEST_CASE("an ended event quits with the reason") {
  testing::FakeClock clock;
  SessionMachine m(clock, true);
  m.submit("ana", "pw");
  m.login_ok(login_response());
  CHECK(m.event(api::Event{2, "ended", {}, {}, std::string("logged out by the admin")}) ==
        Command::quit);
  CHECK(m.phase() == Phase::ended);
  CHECK(m.message() == "logged out by the admin");
  CHECK(m.connection_lost() == Command::none);
}
