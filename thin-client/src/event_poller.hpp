// Long-polls the boot-server for session events (moved, ended) on its own thread and hands each
// batch to `deliver` (which pushes an SDL event). Detached on stop: a long-poll in flight is not
// worth blocking the UI for; it finds `stopped` set and delivers nothing.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "labdesk/viewer/session_api.hpp"

namespace labdesk::viewer {

class EventPoller {
 public:
  using Deliver = std::function<void(api::EventBatch)>;
  EventPoller(std::shared_ptr<SessionApi> api, std::string session, std::string token,
              std::uint64_t after, Deliver deliver) {
    auto stopped = stopped_;
    std::thread([api = std::move(api), session = std::move(session), token = std::move(token), after,
                 deliver = std::move(deliver), stopped]() mutable {
      while (!stopped->load()) {
        auto r = api->events(session, token, after, std::chrono::seconds(20));
        if (stopped->load()) return;
        if (!r) {
          if (r.error().code == api::code::session_gone || r.error().code == api::code::bad_token) return;
          std::this_thread::sleep_for(std::chrono::seconds(1));
          continue;
        }
        for (const auto& e : r->events) after = std::max(after, e.seq);
        if (!r->events.empty()) deliver(std::move(*r));
      }
    }).detach();
  }
  ~EventPoller() { stopped_->store(true); }
  EventPoller(const EventPoller&) = delete;
  EventPoller& operator=(const EventPoller&) = delete;

 private:
  std::shared_ptr<std::atomic<bool>> stopped_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace labdesk::viewer
