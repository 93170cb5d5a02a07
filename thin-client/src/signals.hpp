// How helper threads and signals reach the UI thread: as SDL user events, through EventSink.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <thread>

#include "sdl_api.hpp"

namespace labdesk::viewer {

// The SDL event types registered for the viewer.
struct Events {
  Uint32 rfb = 0, api = 0, signal = 0;
};
// user.code of an Events::api event: a batch of session events, or the answer to a login.
inline constexpr Sint32 kSessionEvents = 0;
inline constexpr Sint32 kLoginAnswer = 1;

// Where helper threads (socket watch, session events, signals) post to the UI thread. SDL opens
// on the UI thread while the connect helper already works, so a push waits until it has (or has
// failed to). Shared with the threads: a detached long-poll that finishes late still finds it.
class EventSink {
 public:
  // UI thread, once: SDL's events are up (sdl non-null) or SDL could not be opened.
  void opened(std::shared_ptr<const Sdl> sdl, Events ev);
  // Any thread; false when the event cannot be queued (SDL missing or already shut down).
  bool push(Uint32 Events::*type, Sint32 code, void* data) const;
  // push() handing `data` over to the event's receiver; kept (and freed) here if not queued.
  template <class T>
  void post(Uint32 Events::*type, Sint32 code, std::unique_ptr<T> data) const {
    if (push(type, code, data.get())) (void)data.release();
  }

 private:
  std::shared_ptr<const Sdl> sdl_;
  Events ev_;
  std::promise<void> opened_;
  std::shared_future<void> ready_ = opened_.get_future().share();
};

// Blocks the signals the viewer handles in the calling thread (and threads it starts later), so
// only SignalThread receives them.
void block_viewer_signals();

// Signals become SDL events: a thread waits for them (they are blocked everywhere else).
class SignalThread {
 public:
  explicit SignalThread(std::function<void(int)> deliver);
  ~SignalThread();
  SignalThread(const SignalThread&) = delete;
  SignalThread& operator=(const SignalThread&) = delete;

 private:
  std::thread thread_;
};

}  // namespace labdesk::viewer
