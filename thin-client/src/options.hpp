// labdesk-viewer's command line.
#pragma once

#include <optional>
#include <string>

#include "labdesk/viewer/session.hpp"
#include "rfb_connection.hpp"

namespace labdesk::viewer {

struct Options {
  std::string server;      // the lab API's base URL
  std::string ca_file;     // the lab CA (PEM): the lab API's and consoles' certificates chain to it
  std::string client_id;   // this lab PC
  std::string user, password;
  std::optional<Target> vnc;  // --vnc HOST:PORT: straight to a desktop, no boot-server
  std::string screenshot;
  double exit_after = 0;   // seconds; 0 = run until closed
  int window_w = 0, window_h = 0;  // --windowed WxH; 0 = full screen
  std::string renderer;    // SDL render driver hint ("software", "opengl", …)
  std::string log_level = "info";
  std::string stats;       // write a JSON line of timings/counters here at exit ("-" = stdout)
  RfbOptions rfb;
};

// Parses argv; returns the exit code to use instead of running (help, bad flags) if any.
std::optional<int> parse_options(int argc, char** argv, Options& out);

}  // namespace labdesk::viewer
