#include "labdesk/agent/events.hpp"

#include <vector>

namespace labdesk::agent {

using api::agent::Event;
using api::agent::EventBatch;

std::uint64_t EventLog::push(Event e) {
  std::vector<std::pair<Waiter, EventBatch>> answers;
  std::uint64_t seq = 0;
  {
    std::lock_guard l(mutex_);
    e.seq = seq = ++seq_;
    ring_.push_back(std::move(e));
    while (ring_.size() > capacity_) ring_.pop_front();
    for (auto& [id, w] : waiters_) answers.emplace_back(std::move(w.second), after_locked(w.first));
    waiters_.clear();
  }
  for (auto& [w, batch] : answers) w(std::move(batch));
  return seq;
}

EventBatch EventLog::after_locked(std::uint64_t after) const {
  EventBatch b;
  if (after > seq_) after = 0;
  for (const auto& e : ring_) {
    if (e.seq > after) b.events.push_back(e);
  }
  b.next = b.events.empty() ? std::max(after, seq_) : b.events.back().seq;
  return b;
}

EventBatch EventLog::after(std::uint64_t after) const {
  std::lock_guard l(mutex_);
  return after_locked(after);
}

std::optional<std::uint64_t> EventLog::wait(std::uint64_t after, Waiter w) {
  EventBatch b;
  {
    std::lock_guard l(mutex_);
    b = after_locked(after);
    if (b.events.empty()) {
      auto id = ++next_waiter_;
      waiters_.emplace(id, std::pair{after, std::move(w)});
      return id;
    }
  }
  w(std::move(b));
  return std::nullopt;
}

void EventLog::expire(std::uint64_t id) {
  Waiter w;
  EventBatch b;
  {
    std::lock_guard l(mutex_);
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    b = after_locked(it->second.first);
    w = std::move(it->second.second);
    waiters_.erase(it);
  }
  w(std::move(b));
}

void EventLog::release_all() {
  std::vector<std::pair<Waiter, EventBatch>> answers;
  {
    std::lock_guard l(mutex_);
    for (auto& [id, w] : waiters_) answers.emplace_back(std::move(w.second), after_locked(w.first));
    waiters_.clear();
  }
  for (auto& [w, batch] : answers) w(std::move(batch));
}

std::uint64_t EventLog::last_seq() const {
  std::lock_guard l(mutex_);
  return seq_;
}

}  // namespace labdesk::agent
