// Waits for a socket to become readable on a helper thread and says so once (notify), then
// waits to be re-armed: the main thread sleeps in SDL_WaitEventTimeout instead of polling.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace labdesk::viewer {

class SocketWatch {
 public:
  SocketWatch(int fd, std::function<void()> notify);
  ~SocketWatch();
  SocketWatch(const SocketWatch&) = delete;
  SocketWatch& operator=(const SocketWatch&) = delete;
  // The owner has drained the socket: watch again.
  void rearm();

 private:
  void run();
  int fd_;
  int wake_;  // eventfd: stops the poll
  std::function<void()> notify_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = true, stop_ = false;
  std::thread thread_;
};

}  // namespace labdesk::viewer
