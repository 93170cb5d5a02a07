#include "labdesk/viewer/viewer_stats.hpp"

namespace labdesk::viewer {

void ViewerStats::first_frame(long ms, std::optional<long> since_lost) {
  if (!first_frame_ms) {
    first_frame_ms = ms;
  } else {
    reframe_ms.push_back(ms);
  }
  if (since_lost) outage_ms.push_back(*since_lost);
}

nlohmann::json stats_json(const ViewerStats& s, std::uint64_t uploaded_pixels, Phase phase,
                          const std::string& session) {
  return {{"first_frame_ms", s.first_frame_ms ? nlohmann::json(*s.first_frame_ms) : nullptr},
          {"reconnect_first_frame_ms", s.reframe_ms},
          {"outage_to_frame_ms", s.outage_ms},
          {"connections", s.connections},
          {"frames", s.frames},
          {"rects", s.rects},
          {"uploaded_pixels", uploaded_pixels},
          {"phase", to_string(phase)},
          {"session", session}};
}

}  // namespace labdesk::viewer
