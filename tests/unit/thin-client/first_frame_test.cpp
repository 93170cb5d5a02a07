// The first-frame gate (no black gap, ever) with a fake clock.
#include <doctest/doctest.h>

#include "fake_clock.hpp"
#include "labdesk/viewer/first_frame.hpp"

using namespace labdesk::viewer;

TEST_CASE("first frame: a new picture is shown only once complete") {
  testing::FakeClock clock;
  FirstFrameGate gate(Millis{2000});
  CHECK_FALSE(gate.fresh());
  gate.decoded(100);  // no connection yet: nothing counts
  CHECK(gate.covered() == 0);
  gate.connected(clock.now());
  CHECK(gate.fresh());
  CHECK_FALSE(gate.deadline().has_value());  // nothing decoded: nothing to fall back to
  gate.decoded(640 * 240);
  CHECK_FALSE(gate.complete(640 * 480));
  gate.decoded(640 * 240);
  CHECK(gate.complete(640 * 480));
  gate.resized();  // a new size: the old rectangles cover nothing of it
  CHECK_FALSE(gate.complete(800 * 600));
  CHECK(gate.fresh());
  gate.shown();
  CHECK_FALSE(gate.fresh());
  gate.decoded(100);  // after it is shown, rectangles are the screen's, not the gate's
  CHECK(gate.covered() == 0);
}

TEST_CASE("first frame: an all-black picture waits for the grace, measured from the connect") {
  testing::FakeClock clock;
  FirstFrameGate gate(Millis{2000});
  gate.connected(clock.now());
  gate.decoded(1024 * 768);
  REQUIRE(gate.deadline().has_value());
  CHECK(*gate.deadline() == clock.now() + Millis{2000});
  clock.advance(Millis{1999});
  CHECK_FALSE(gate.black_allowed(clock.now()));
  CHECK_FALSE(gate.grace_over(clock.now()));
  clock.advance(Millis{1});
  CHECK(gate.black_allowed(clock.now()));
  CHECK(gate.grace_over(clock.now()));
  CHECK(gate.since_connect(clock.now()) == Millis{2000});
  // A reconnect starts the grace again.
  gate.connected(clock.now());
  CHECK_FALSE(gate.grace_over(clock.now() + Millis{5000}));  // nothing decoded on the new one
  gate.decoded(1);
  CHECK_FALSE(gate.grace_over(clock.now()));
  CHECK(gate.grace_over(clock.now() + Millis{2000}));
  gate.shown();
  CHECK_FALSE(gate.grace_over(clock.now() + Millis{9000}));
  CHECK_FALSE(gate.deadline().has_value());
}
