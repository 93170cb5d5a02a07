// Users and passwords (argon2id through libsodium), and a rate limit on wrong passwords per user
// and lab PC and per lab PC, so guessing is slow.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "labdesk/broker/ports.hpp"

namespace labdesk::broker {

// How hard a new hash is to compute. `interactive` (~0.1 s, 64 MiB) is for real users; `minimal`
// only for generated load-test users, where the benchmark measures the broker, not argon2.
enum class HashCost { interactive, minimal };

// argon2id in libsodium's self-describing string form ("$argon2id$v=19$m=…"); verification reads
// the cost from the string.
std::string hash_password(const std::string& password, HashCost cost = HashCost::interactive);
bool verify_password(const std::string& hash, const std::string& password);

struct User {
  std::string name;
  std::string password_hash;
  bool admin = false;
};

class UserStore {
 public:
  virtual ~UserStore() = default;
  virtual std::optional<User> find(const std::string& name) = 0;
  virtual std::vector<User> all() = 0;
  virtual void put(const User& u) = 0;  // insert or replace
  virtual bool remove(const std::string& name) = 0;
};

class MemoryUserStore final : public UserStore {
 public:
  std::optional<User> find(const std::string& name) override;
  std::vector<User> all() override;
  void put(const User& u) override;
  bool remove(const std::string& name) override;

 private:
  std::mutex mu_;
  std::map<std::string, User> users_;
};

// Valid user names: 1-32 of [a-z0-9._-], starting with a letter or digit.
bool valid_user_name(const std::string& name);

struct RateLimitOptions {
  int failures_allowed = 5;                // within the window, per user on one lab PC
  std::chrono::seconds window{60};
  std::chrono::seconds lockout{60};
  int source_failures_allowed = 20;        // within the window, per lab PC (address), any users
  std::size_t max_entries = 16384;         // keys tracked at once; the stalest go first
};

// Counts wrong passwords per key; a key over its limit is refused until its lockout ends. The map
// is bounded: keys whose failures have aged out go first, then the least recently failed.
class RateLimiter {
 public:
  RateLimiter(const Clock& clock, RateLimitOptions opt = {});
  // Seconds until `key` may try again, or 0.
  [[nodiscard]] long blocked_for(const std::string& key);
  void failure(const std::string& key, int allowed);
  void success(const std::string& key);
  [[nodiscard]] std::size_t size();

 private:
  using Time = std::chrono::steady_clock::time_point;
  struct Entry {
    std::vector<Time> failures;
    Time until{};
  };
  void make_room(Time now);
  const Clock& clock_;
  RateLimitOptions opt_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// Checks a user's password under the rate limits; errors are 401 bad_credentials (the same
// answer for an unknown user and a wrong password) or 429 rate_limited. Limits are keyed by the
// source address the request came from (never by what the client says it is), per user on that
// address and per address: a student guessing at one PC locks out that PC, never the user at
// their own.
class Authenticator {
 public:
  Authenticator(UserStore& users, const Clock& clock, RateLimitOptions opt = {});
  Result<User> check(const std::string& user, const std::string& password, const std::string& source);
  [[nodiscard]] std::size_t tracked_keys() { return limiter_.size(); }

 private:
  UserStore& users_;
  RateLimitOptions opt_;
  RateLimiter limiter_;
  std::string dummy_hash_;  // verified against for unknown users, so timing does not tell
};

}  // namespace labdesk::broker
