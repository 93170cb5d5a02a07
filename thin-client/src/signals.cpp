#include "signals.hpp"

#include <pthread.h>
#include <signal.h>

namespace labdesk::viewer {
namespace {

// SIGUSR2 is SignalThread's own stop request.
sigset_t viewer_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  return set;
}

}  // namespace

void EventSink::opened(std::shared_ptr<const Sdl> sdl, Events ev) {
  sdl_ = std::move(sdl);
  ev_ = ev;
  opened_.set_value();
}

bool EventSink::push(Uint32 Events::*type, Sint32 code, void* data) const {
  ready_.wait();
  if (!sdl_) return false;
  SDL_Event e{};
  e.type = ev_.*type;
  e.user.code = code;
  e.user.data1 = data;
  return sdl_->SDL_PushEvent(&e) == 1;
}

void block_viewer_signals() {
  sigset_t set = viewer_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalThread::SignalThread(std::function<void(int)> deliver) {
  block_viewer_signals();
  thread_ = std::thread([set = viewer_signals(), deliver = std::move(deliver)] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGUSR2) return;  // our own stop request
      deliver(sig);
    }
  });
}

SignalThread::~SignalThread() {
  pthread_kill(thread_.native_handle(), SIGUSR2);
  thread_.join();
}

}  // namespace labdesk::viewer
