#include "socket_watch.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace labdesk::viewer {

SocketWatch::SocketWatch(int fd, std::function<void()> notify)
    : fd_(fd), wake_(eventfd(0, EFD_CLOEXEC)), notify_(std::move(notify)), thread_([this] { run(); }) {}

SocketWatch::~SocketWatch() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_, &one, sizeof one);
  thread_.join();
  close(wake_);
}

void SocketWatch::rearm() {
  {
    std::lock_guard lock(mu_);
    armed_ = true;
  }
  cv_.notify_all();
}

void SocketWatch::run() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return armed_ || stop_; });
      if (stop_) return;
    }
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) return;
    {
      std::lock_guard lock(mu_);
      armed_ = false;
    }
    notify_();  // also on POLLHUP/POLLERR: pump() then reports the loss
  }
}

}  // namespace labdesk::viewer
