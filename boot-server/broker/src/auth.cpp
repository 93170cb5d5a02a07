#include "labdesk/broker/auth.hpp"

#include <algorithm>

#include <sodium.h>

namespace labdesk::broker {

std::string hash_password(const std::string& password, HashCost cost) {
  if (sodium_init() < 0) throw Failure(Error{"internal", "libsodium failed to initialise", 500});
  char out[crypto_pwhash_STRBYTES];
  // Interactive limits: ~0.1 s on a lab server, enough against offline guessing of a stolen DB.
  bool min = cost == HashCost::minimal;
  if (crypto_pwhash_str(out, password.data(), password.size(),
                        min ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        min ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    throw Failure(Error{"internal", "out of memory while hashing a password", 500});
  }
  return out;
}

bool verify_password(const std::string& hash, const std::string& password) {
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

bool valid_user_name(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

std::optional<User> MemoryUserStore::find(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = users_.find(name);
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

std::vector<User> MemoryUserStore::all() {
  std::lock_guard lock(mu_);
  std::vector<User> out;
  for (const auto& [n, u] : users_) out.push_back(u);
  return out;
}

void MemoryUserStore::put(const User& u) {
  std::lock_guard lock(mu_);
  users_[u.name] = u;
}

bool MemoryUserStore::remove(const std::string& name) {
  std::lock_guard lock(mu_);
  return users_.erase(name) > 0;
}

RateLimiter::RateLimiter(const Clock& clock, RateLimitOptions opt) : clock_(clock), opt_(opt) {}

long RateLimiter::blocked_for(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  auto now = clock_.now();
  if (it->second.until <= now) return 0;
  return static_cast<long>(std::chrono::ceil<std::chrono::seconds>(it->second.until - now).count());
}

void RateLimiter::make_room(Time now) {
  std::erase_if(entries_, [&](const auto& kv) {
    const auto& e = kv.second;
    return e.until <= now && (e.failures.empty() || now - e.failures.back() > opt_.window);
  });
  while (entries_.size() >= opt_.max_entries && !entries_.empty()) {
    auto stalest = entries_.begin();
    auto last = [](const Entry& e) { return std::max(e.until, e.failures.empty() ? Time{} : e.failures.back()); };
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (last(it->second) < last(stalest->second)) stalest = it;
    }
    entries_.erase(stalest);
  }
}

void RateLimiter::failure(const std::string& key, int allowed) {
  std::lock_guard lock(mu_);
  auto now = clock_.now();
  if (!entries_.contains(key) && entries_.size() >= opt_.max_entries) make_room(now);
  auto& e = entries_[key];
  std::erase_if(e.failures, [&](auto t) { return now - t > opt_.window; });
  e.failures.push_back(now);
  if (static_cast<int>(e.failures.size()) >= allowed) {
    e.until = now + opt_.lockout;
    e.failures.clear();
  }
}

void RateLimiter::success(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

std::size_t RateLimiter::size() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

Authenticator::Authenticator(UserStore& users, const Clock& clock, RateLimitOptions opt)
    : users_(users), opt_(opt), limiter_(clock, opt), dummy_hash_(hash_password("labdesk-no-such-user")) {}

Result<User> Authenticator::check(const std::string& user, const std::string& password,
                                  const std::string& source) {
  const std::string pair_key = "user:" + user + "@" + source;
  const std::string source_key = "source:" + source;
  if (long wait = std::max(limiter_.blocked_for(pair_key), limiter_.blocked_for(source_key)); wait > 0) {
    // Hammering on while locked out counts against the lab PC: it soon locks for every name.
    limiter_.failure(source_key, opt_.source_failures_allowed);
    return fail("rate_limited", "too many wrong passwords from this lab PC: try again in " + std::to_string(wait) + " s", 429);
  }
  auto u = users_.find(user);
  bool ok = verify_password(u ? u->password_hash : dummy_hash_, password) && u.has_value();
  if (!ok) {
    limiter_.failure(pair_key, opt_.failures_allowed);
    limiter_.failure(source_key, opt_.source_failures_allowed);
    return fail("bad_credentials", "wrong user name or password", 401);
  }
  limiter_.success(pair_key);
  return *u;
}

}  // namespace labdesk::broker
