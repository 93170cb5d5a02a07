#include <cstdio>
#include <exception>

#include "app.hpp"

int main(int argc, char** argv) {
  try {
    return labdesk::viewer::run_viewer(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "labdesk-viewer: internal error: %s\n", e.what());
    return 3;
  }
}
