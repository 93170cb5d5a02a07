#include "labdesk/agents/watcher.hpp"

#include <algorithm>

namespace labdesk::agents {

EventWatcher::EventWatcher(broker::Broker& broker, broker::HostTable& hosts, std::chrono::seconds wait)
    : broker_(broker), hosts_(hosts), wait_(wait) {}

EventWatcher::~EventWatcher() { stop(); }

void EventWatcher::start() {
  for (std::size_t h = 0; h < hosts_.size(); ++h) threads_.emplace_back([this, h] { follow(h); });
}

void EventWatcher::stop() {
  stopping_ = true;
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

bool EventWatcher::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

void EventWatcher::follow(std::size_t host) {
  std::uint64_t after = 0;
  bool caught_up = false;  // events from before our start were handled by reconciliation
  auto backoff = std::chrono::milliseconds(500);
  while (!stopping_) {
    auto t0 = std::chrono::steady_clock::now();
    auto batch = hosts_.agent(host).events(after, caught_up ? wait_ : std::chrono::seconds(0));
    if (!batch) {
      if (!pause(backoff)) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
      continue;
    }
    backoff = std::chrono::milliseconds(500);
    if (caught_up) {
      for (const auto& e : batch->events) broker_.desktop_event(host, e);
    }
    after = std::max(after, batch->next);
    caught_up = true;
    // An agent that answers at once with nothing (no long-poll support) must not be spun on.
    if (batch->events.empty() && std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(200)) {
      if (!pause(std::chrono::milliseconds(1000))) return;
    }
  }
}

}  // namespace labdesk::agents
