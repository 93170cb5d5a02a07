#include "sim.hpp"

#include <algorithm>

namespace labdesk::alloc::detail {

Sim::Sim(const Cluster& c, const Policy& p) : c_(c), p_(p), used_(c.hosts.size(), 0) {
  for (const auto& vm : c.users) used_[vm.host] += vm.mib;
}

HostIndex Sim::host_of(std::size_t user) const {
  auto it = moved_.find(user);
  return it == moved_.end() ? c_.users[user].host : it->second.first;
}

Mib Sim::mib_of(std::size_t user) const {
  auto it = moved_.find(user);
  return it == moved_.end() ? c_.users[user].mib : it->second.second;
}

double Sim::score(HostIndex h) const {
  const Host& host = c_.hosts[h];
  double mem = host.usable() > 0
                   ? static_cast<double>(used_[h]) / static_cast<double>(host.usable())
                   : 1.0;
  return p_.weights.memory * mem + p_.weights.cpu * host.cpu + p_.weights.network * host.network;
}

bool Sim::fits_keeping(Mib mib, Mib reserve) const {
  // The two largest holes decide: placing into the largest leaves max(largest - mib, second).
  Mib first = -1;
  Mib second = -1;
  for (HostIndex h = 0; h < used_.size(); ++h) {
    Mib f = free(h);
    if (f > first) { second = first; first = f; }
    else if (f > second) { second = f; }
  }
  if (first < mib) return false;
  if (reserve <= 0) return true;
  // Placing into the largest hole is not always best: try the smallest hole that fits too.
  if (std::max(first - mib, second) >= reserve) return true;
  return second >= mib && first >= reserve;
}

std::optional<HostIndex> Sim::best_host(Mib mib, Mib reserve,
                                        std::optional<HostIndex> except) const {
  Mib first = -1;
  Mib second = -1;
  HostIndex first_at = 0;
  for (HostIndex h = 0; h < used_.size(); ++h) {
    Mib f = free(h);
    if (f > first) { second = first; first = f; first_at = h; }
    else if (f > second) { second = f; }
  }
  std::optional<HostIndex> best;
  std::optional<HostIndex> best_keeping;
  double best_score = 0;
  double best_keeping_score = 0;
  for (HostIndex h = 0; h < used_.size(); ++h) {
    if (h == except || free(h) < mib) continue;
    double s = score(h);
    if (!best || s < best_score) { best = h; best_score = s; }
    Mib largest_after = h == first_at ? std::max(first - mib, second) : first;
    if (reserve > 0 && largest_after >= reserve && (!best_keeping || s < best_keeping_score)) {
      best_keeping = h;
      best_keeping_score = s;
    }
  }
  return best_keeping ? best_keeping : best;
}

void Sim::start(const std::string& user, HostIndex h, Mib mib, Mib max_mib) {
  used_[h] += mib;
  steps_.push_back(Step{Op::start, user, h, mib, max_mib == mib ? 0 : max_mib, {}});
}

void Sim::switch_to(const std::string& user, HostIndex h, Mib mib) {
  steps_.push_back(Step{Op::switch_to, user, h, mib, 0, {}});
}

void Sim::destroy(const std::string& user, HostIndex h, Mib mib) {
  used_[h] -= mib;
  steps_.push_back(Step{Op::destroy, user, h, mib, 0, {}});
}

void Sim::resize(std::size_t user, Mib mib) {
  HostIndex h = host_of(user);
  used_[h] += mib - mib_of(user);
  moved_[user] = {h, mib};
  steps_.push_back(Step{Op::resize, c_.users[user].user, h, mib, 0, {}});
}

bool Sim::handoff_to(std::size_t user, HostIndex to, Mib mib) {
  const std::string& name = c_.users[user].user;
  HostIndex from = host_of(user);
  Mib old = mib_of(user);
  if (free(to) >= mib) {
    start(name, to, mib, mib);
    switch_to(name, to, mib);
    destroy(name, from, old);
  } else if (to == from && free(to) + old >= mib) {
    destroy(name, from, old);  // cold: no room beside the old VM anywhere
    start(name, to, mib, mib);
    switch_to(name, to, mib);
  } else {
    return false;
  }
  moved_[user] = {to, mib};
  return true;
}

bool Sim::handoff(std::size_t user, Mib mib, Mib reserve) {
  if (auto h = best_host(mib, reserve)) return handoff_to(user, *h, mib);
  return handoff_to(user, host_of(user), mib);
}

void Sim::rollback(Mark m) {
  used_ = std::move(m.used);
  moved_ = std::move(m.moved);
  steps_.resize(m.steps);
}

bool Sim::defragment(Mib mib) {
  constexpr std::size_t kMaxMoves = 4;  // each move is a blackout for someone: keep it short
  constexpr std::size_t kHostsTried = 8;
  std::vector<HostIndex> order(used_.size());
  for (HostIndex h = 0; h < order.size(); ++h) order[h] = h;
  std::size_t tried = std::min(kHostsTried, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(tried), order.end(),
                    [&](HostIndex a, HostIndex b) { return free(a) > free(b); });
  for (std::size_t k = 0; k < tried; ++k) {
    HostIndex h = order[k];
    if (c_.hosts[h].usable() < mib) continue;
    std::vector<std::size_t> residents;
    for (std::size_t u = 0; u < c_.users.size(); ++u) {
      if (host_of(u) == h) residents.push_back(u);
    }
    // Smallest first: cheap to place elsewhere, and each move frees what is needed bit by bit.
    std::sort(residents.begin(), residents.end(),
              [&](std::size_t a, std::size_t b) { return mib_of(a) < mib_of(b); });
    Mark before = mark();
    std::size_t moves = 0;
    for (std::size_t u : residents) {
      if (free(h) >= mib || moves == kMaxMoves) break;
      auto to = best_host(mib_of(u), 0, h);
      if (to && handoff_to(u, *to, mib_of(u))) ++moves;
    }
    if (free(h) >= mib) return true;
    rollback(std::move(before));
  }
  return false;
}

}  // namespace labdesk::alloc::detail
