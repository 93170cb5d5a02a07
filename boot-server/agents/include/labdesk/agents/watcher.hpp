// Follows every agent's lifecycle events (long-poll) and hands them to the broker, one thread per
// host; an agent that does not answer is retried with backoff.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "labdesk/broker/broker.hpp"

namespace labdesk::agents {

class EventWatcher {
 public:
  EventWatcher(broker::Broker& broker, broker::HostTable& hosts,
               std::chrono::seconds wait = std::chrono::seconds(20));
  ~EventWatcher();
  EventWatcher(const EventWatcher&) = delete;
  EventWatcher& operator=(const EventWatcher&) = delete;

  void start();
  void stop();

 private:
  void follow(std::size_t host);
  // Sleeps up to `d`, returning early (false) when stopping.
  bool pause(std::chrono::milliseconds d);

  broker::Broker& broker_;
  broker::HostTable& hosts_;
  std::chrono::seconds wait_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;
};

}  // namespace labdesk::agents
