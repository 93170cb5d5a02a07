// fake-rfb-server PORT PASSWORD [WxH] [--animate]: the test RFB server as a program, for
// integration tests and manual runs of labdesk-viewer without a VM. Runs until SIGTERM.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fake_rfb_server.hpp"

namespace {
volatile sig_atomic_t stop = 0;
void on_term(int) { stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fake-rfb-server PORT PASSWORD [WxH] [--animate]\n");
    return 2;
  }
  int w = 320, h = 200;
  bool animate = false;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--animate") == 0) animate = true;
    else std::sscanf(argv[i], "%dx%d", &w, &h);
  }
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  labdesk::fakes::FakeRfbServer server(w, h, argv[2], std::atoi(argv[1]));
  std::printf("fake-rfb-server listening on 127.0.0.1:%d\n", server.port());
  std::fflush(stdout);
  for (int frame = 1; !stop; ++frame) {
    usleep(animate ? 40000 : 200000);
    if (animate) server.paint(0, 0, w / 2, h / 2, frame);
  }
  return 0;
}
