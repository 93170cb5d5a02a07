// The ring of desktop events the boot-server long-polls (GET /v1/events?after=SEQ&wait=S).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

#include "labdesk/common/api/agent.hpp"

namespace labdesk::agent {

class EventLog {
 public:
  using Waiter = std::function<void(api::agent::EventBatch)>;

  explicit EventLog(std::size_t capacity = 1024) : capacity_(capacity) {}

  // Appends (seq is assigned) and answers every waiter; returns the seq.
  std::uint64_t push(api::agent::Event e);
  // Events after `after`. If `after` is ahead of the log (the agent restarted and numbering
  // began again), everything kept is returned so the caller notices next < after.
  [[nodiscard]] api::agent::EventBatch after(std::uint64_t after) const;
  // Answers at once when there is something after `after`; else parks the waiter and returns
  // its id, for expire() when the caller's timer runs out.
  std::optional<std::uint64_t> wait(std::uint64_t after, Waiter w);
  void expire(std::uint64_t waiter_id);
  // Answers every parked waiter (drain on shutdown).
  void release_all();
  [[nodiscard]] std::uint64_t last_seq() const;

 private:
  api::agent::EventBatch after_locked(std::uint64_t after) const;
  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::deque<api::agent::Event> ring_;
  std::uint64_t seq_ = 0;
  std::uint64_t next_waiter_ = 0;
  std::map<std::uint64_t, std::pair<std::uint64_t, Waiter>> waiters_;
};

}  // namespace labdesk::agent
