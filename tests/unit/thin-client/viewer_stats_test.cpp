// The --stats counters and their JSON line.
#include <doctest/doctest.h>

#include "labdesk/viewer/viewer_stats.hpp"

using namespace labdesk::viewer;

TEST_CASE("stats: the first connection's first frame is kept apart from later ones") {
  ViewerStats s;
  s.first_frame(120, std::nullopt);
  s.first_frame(80, 900L);  // a reconnect after a lost link
  s.first_frame(60, std::nullopt);  // a move: nothing was lost
  REQUIRE(s.first_frame_ms.has_value());
  CHECK(*s.first_frame_ms == 120);
  CHECK(s.reframe_ms == std::vector<long>{80, 60});
  CHECK(s.outage_ms == std::vector<long>{900});
}

TEST_CASE("stats: the JSON line carries every figure under its published name") {
  ViewerStats s;
  s.frames = 7;
  s.rects = 42;
  s.connections = 2;
  auto j = stats_json(s, 1024, Phase::connected, "s-1");
  CHECK(j["first_frame_ms"].is_null());  // no frame yet
  CHECK(j["reconnect_first_frame_ms"] == nlohmann::json::array());
  CHECK(j["outage_to_frame_ms"] == nlohmann::json::array());
  CHECK(j["connections"] == 2);
  CHECK(j["frames"] == 7);
  CHECK(j["rects"] == 42);
  CHECK(j["uploaded_pixels"] == 1024);
  CHECK(j["phase"] == "connected");
  CHECK(j["session"] == "s-1");
  CHECK(j.size() == 9);
  s.first_frame(130, std::nullopt);
  s.first_frame(70, 400L);
  j = stats_json(s, 0, Phase::reconnecting, "");
  CHECK(j["first_frame_ms"] == 130);
  CHECK(j["reconnect_first_frame_ms"] == nlohmann::json::array({70}));
  CHECK(j["outage_to_frame_ms"] == nlohmann::json::array({400}));
  CHECK(j["phase"] == "reconnecting");
}
