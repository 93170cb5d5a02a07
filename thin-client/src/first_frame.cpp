#include "labdesk/viewer/first_frame.hpp"

namespace labdesk::viewer {

void FirstFrameGate::connected(Millis now) {
  connected_at_ = now;
  fresh_ = true;
  covered_ = 0;
}

void FirstFrameGate::decoded(long pixels) {
  if (fresh_) covered_ += pixels;
}

std::optional<Millis> FirstFrameGate::deadline() const {
  if (!fresh_ || covered_ == 0) return std::nullopt;
  return connected_at_ + grace_;
}

}  // namespace labdesk::viewer
