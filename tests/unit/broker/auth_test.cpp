#include <doctest/doctest.h>

#include "../../fakes/broker_fakes.hpp"
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

TEST_CASE("wrong passwords are rate-limited per user and per client, the right one resets") {
  labdesk::fakes::ManualClock clock;
  MemoryUserStore users;
  users.put({"alice", hash_password("pw"), false});
  Authenticator auth(users, clock, {3, std::chrono::seconds(60), std::chrono::seconds(30)});
  CHECK(auth.check("alice", "pw", "pc1").has_value());
  CHECK(auth.check("alice", "nope", "pc1").error().code == "bad_credentials");
  CHECK(auth.check("nobody", "x", "pc1").error().message == "wrong user name or password");
  CHECK(auth.check("alice", "nope", "pc2").error().status == 401);
  // pc1 has 2 failures, alice 2: one more on alice locks alice out everywhere.
  CHECK(auth.check("alice", "nope", "pc3").error().status == 401);
  auto locked = auth.check("alice", "pw", "pc4");
  REQUIRE_FALSE(locked.has_value());
  CHECK(locked.error().code == "rate_limited");
  CHECK(locked.error().status == 429);
  clock.advance(std::chrono::seconds(31));
  CHECK(auth.check("alice", "pw", "pc4").has_value());
}
