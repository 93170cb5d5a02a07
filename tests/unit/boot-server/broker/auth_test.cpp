#include <doctest/doctest.h>

#include "../../../fakes/broker_fakes.hpp"
#include "labdesk/broker/auth.hpp"

using namespace labdesk::broker;

TEST_CASE("argon2id hashes verify, and a wrong password does not") {
  auto h = hash_password("correct horse");
  CHECK(h.rfind("$argon2id$", 0) == 0);
  CHECK(verify_password(h, "correct horse"));
  CHECK_FALSE(verify_password(h, "correct hors"));
  CHECK(hash_password("correct horse") != h);  // salted
}

TEST_CASE("user names") {
  CHECK(valid_user_name("alice"));
  CHECK(valid_user_name("s2024.kim_j-1"));
  CHECK_FALSE(valid_user_name(""));
  CHECK_FALSE(valid_user_name("Alice"));
  CHECK_FALSE(valid_user_name("../etc"));
  CHECK_FALSE(valid_user_name("-x"));
  CHECK_FALSE(valid_user_name(std::string(33, 'a')));
}

TEST_CASE("wrong passwords are rate-limited per user on a lab PC, the right one resets") {
  labdesk::fakes::ManualClock clock;
  MemoryUserStore users;
  users.put({"alice", hash_password("pw"), false});
  Authenticator auth(users, clock, {3, std::chrono::seconds(60), std::chrono::seconds(30), 100, 1000});
  CHECK(auth.check("alice", "pw", "10.0.0.1").has_value());
  CHECK(auth.check("alice", "nope", "10.0.0.1").error().code == "bad_credentials");
  CHECK(auth.check("nobody", "x", "10.0.0.1").error().message == "wrong user name or password");
  CHECK(auth.check("alice", "nope", "10.0.0.1").error().status == 401);
  CHECK(auth.check("alice", "nope", "10.0.0.1").error().status == 401);
  auto locked = auth.check("alice", "pw", "10.0.0.1");
  REQUIRE_FALSE(locked.has_value());
  CHECK(locked.error().code == "rate_limited");
  CHECK(locked.error().status == 429);
  clock.advance(std::chrono::seconds(31));
  CHECK(auth.check("alice", "pw", "10.0.0.1").has_value());
}

TEST_CASE("a stranger's wrong passwords never stop the right one from the user's own lab PC") {
  labdesk::fakes::ManualClock clock;
  MemoryUserStore users;
  users.put({"alice", hash_password("pw"), false});
  users.put({"bob", hash_password("bob-pw"), false});
  Authenticator auth(users, clock, {3, std::chrono::seconds(60), std::chrono::seconds(30), 5, 1000});
  // The stranger at 10.0.0.66 claims to be many lab PCs; only the address counts.
  for (int i = 0; i < 10; ++i) (void)auth.check("alice", "guess" + std::to_string(i), "10.0.0.66");
  CHECK(auth.check("alice", "pw", "10.0.0.66").error().code == "rate_limited");
  CHECK(auth.check("alice", "pw", "10.0.0.7").has_value());  // alice at her own PC
  // The stranger's PC is locked for every user once it has guessed too often.
  CHECK(auth.check("bob", "bob-pw", "10.0.0.66").error().code == "rate_limited");
  CHECK(auth.check("bob", "bob-pw", "10.0.0.8").has_value());
}

TEST_CASE("the rate limiter's memory is bounded, however many names and addresses are tried") {
  labdesk::fakes::ManualClock clock;
  RateLimiter limiter(clock, {3, std::chrono::seconds(60), std::chrono::seconds(30), 20, 64});
  for (int i = 0; i < 10000; ++i) limiter.failure("user:u" + std::to_string(i) + "@10.0.1.1", 3);
  CHECK(limiter.size() <= 64);
  // A locked key that was used recently survives the eviction of stale ones.
  for (int i = 0; i < 3; ++i) limiter.failure("source:10.0.0.66", 3);
  CHECK(limiter.blocked_for("source:10.0.0.66") > 0);
  for (int i = 0; i < 30; ++i) limiter.failure("user:v" + std::to_string(i) + "@10.0.1.2", 3);
  CHECK(limiter.size() <= 64);
  // Failures that aged out make room first.
  clock.advance(std::chrono::minutes(5));
  limiter.failure("user:w@10.0.1.3", 3);
  CHECK(limiter.size() <= 2);

  MemoryUserStore users;
  users.put({"alice", hash_password("pw", HashCost::minimal), false});
  Authenticator auth(users, clock, {3, std::chrono::seconds(60), std::chrono::seconds(30), 20, 16});
  for (int i = 0; i < 40; ++i) (void)auth.check("user" + std::to_string(i), "x", "10.0.1." + std::to_string(i));
  CHECK(auth.tracked_keys() <= 16);
  CHECK(auth.check("alice", "pw", "10.0.0.7").has_value());
}
