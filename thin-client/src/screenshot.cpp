#include "screenshot.hpp"

#include "labdesk/viewer/geometry.hpp"
#include "png_writer.hpp"

namespace labdesk::viewer {
namespace {

// The first screenshot waits this long after the first full frame for a picture that is not one
// colour (a VM that has not drawn yet shows a blank surface and soon sends more), then takes it anyway.
constexpr Millis kShotWait{3000};

}  // namespace

void Screenshot::first_frame(const RfbConnection* on_screen) {
  if (path_.empty() || taken_) return;
  taken_ = true;
  due_ = clock_.now();
  first_if_ready(on_screen);
}

void Screenshot::first_if_ready(const RfbConnection* on_screen) {
  if (!due_) return;
  if (!on_screen) return;  // connection lost meanwhile: the next first frame decides
  const auto& c = *on_screen;
  bool blank = uniform_colour(c.pixels(), c.width(), c.height(), c.stride()).has_value();
  bool late = clock_.now() - *due_ >= kShotWait;
  if (blank && !late) return;
  if (blank) log_->warn("the desktop is still one colour {} ms after its first frame: screenshot taken anyway", kShotWait.count());
  due_.reset();
  take(on_screen);
}

void Screenshot::take(const RfbConnection* on_screen) {
  if (!on_screen) {
    log_->warn("no desktop on screen yet: screenshot skipped");
    return;
  }
  const auto& c = *on_screen;
  auto r = write_png(path_, c.pixels(), c.width(), c.height(), c.stride());
  if (!r) log_->error("{}", r.error().message);
  else log_->info("screenshot written to '{}'", path_);
}

std::optional<Millis> Screenshot::deadline() const {
  if (!due_) return std::nullopt;
  return *due_ + kShotWait;
}

}  // namespace labdesk::viewer
