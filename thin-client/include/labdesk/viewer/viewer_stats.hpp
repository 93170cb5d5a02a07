// The timings and counters `--stats` writes at exit, and their JSON line. Pure: the numbers come
// in from the event loop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "labdesk/viewer/session.hpp"

namespace labdesk::viewer {

struct ViewerStats {
  std::optional<long> first_frame_ms;  // connect start -> first full frame, first connection
  std::vector<long> reframe_ms;        // same for every later connection
  std::vector<long> outage_ms;         // link lost -> first frame again
  std::uint64_t frames = 0, rects = 0;
  unsigned connections = 0;

  // A connection's first full frame came `ms` after connecting; `since_lost`: after the link
  // was lost, when this connection replaces a lost one.
  void first_frame(long ms, std::optional<long> since_lost);
};

nlohmann::json stats_json(const ViewerStats& s, std::uint64_t uploaded_pixels, Phase phase,
                          const std::string& session);

}  // namespace labdesk::viewer
