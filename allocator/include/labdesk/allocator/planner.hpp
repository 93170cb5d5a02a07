// Plans arrivals, departures and grow-backs as ordered steps that never overcommit a host, not
// even while a handoff's old and new VM both exist.
#pragma once

#include <expected>
#include <string>

#include "labdesk/allocator/model.hpp"
#include "labdesk/allocator/tiers.hpp"

namespace labdesk::alloc {

class Planner {
 public:
  explicit Planner(Policy policy);

  [[nodiscard]] const Policy& policy() const { return policy_; }

  // A newcomer gets the tier for the new user count. Users above that tier shrink, most recently
  // connected first, only until the newcomer fits and one host keeps room for the next arrival.
  // A plan whose first step is Op::reject means "no capacity" and changes nothing.
  // Errors (a user already connected) are input mistakes, not capacity answers.
  [[nodiscard]] std::expected<Plan, std::string> arrive(const Cluster& c,
                                                        const std::string& user) const;

  // Destroys the user's VM; nobody grows until grow() is asked for.
  [[nodiscard]] std::expected<Plan, std::string> depart(const Cluster& c,
                                                        const std::string& user) const;

  // Brings users below the current tier back up to it, oldest first, while one host keeps room
  // for the next arrival. Under handoff this restarts their desktops, so it runs only on request.
  [[nodiscard]] Plan grow(const Cluster& c) const;

  // Executes a plan on a copy of the cluster, checking every step (capacity at each step, one
  // live VM per user at the end). The boot-server's executor follows the same semantics.
  [[nodiscard]] std::expected<Cluster, std::string> apply(Cluster c, const Plan& plan) const;

 private:
  Policy policy_;
};

}  // namespace labdesk::alloc
