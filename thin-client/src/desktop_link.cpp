#include "desktop_link.hpp"

namespace labdesk::viewer {

bool DesktopLink::open(const Target& t, Millis app_started) {
  drop();
  connect_started_ = clock_.now();
  auto r = RfbConnection::open(t, opt_, *this);
  if (!r) {
    log_failure(t, r.error().message);
    return false;
  }
  if (auto n = connect_failures_.succeeded(); n > 0)
    log_->info("opened the desktop at '{}:{}' after {} failed tries", t.endpoint.host, t.endpoint.port, n);
  conn_ = std::move(*r);
  gate_.connected(connect_started_);
  log_->debug("handshake done {} ms after start", (clock_.now() - app_started).count());
  ++stats_.connections;
  log_->info("connected to '{}:{}' ('{}', {}x{}) in {} ms", t.endpoint.host, t.endpoint.port,
             conn_->desktop_name(), conn_->width(), conn_->height(), (clock_.now() - connect_started_).count());
  listener_.connected(*conn_);
  auto gen = generation_;
  watch_ = std::make_unique<SocketWatch>(conn_->fd(), [sink = sink_, gen] { sink->push(&Events::rfb, gen, nullptr); });
  return true;
}

void DesktopLink::log_failure(const Target& t, const std::string& message) {
  if (auto n = connect_failures_.failed(t.endpoint.host + ":" + std::to_string(t.endpoint.port)); n == 1U)
    log_->warn("{}", message);
  else if (n)
    log_->warn("still cannot open the desktop at '{}:{}' after {} tries", t.endpoint.host, t.endpoint.port, *n);
}

void DesktopLink::drop() {
  watch_.reset();  // before the socket it watches
  conn_.reset();
  gate_.shown();
  ++generation_;
}

DesktopLink::Pump DesktopLink::pump() {
  if (!conn_) return Pump::no_link;
  auto r = conn_->pump();
  if (r) return Pump::ok;
  log_->warn("{}: keeping the last frame and reconnecting", r.error().message);
  return Pump::lost;
}

void DesktopLink::rearm() {
  if (watch_) watch_->rearm();
}

long DesktopLink::show() {
  gate_.shown();
  frame_waiting_ = false;
  dirty_.set_bounds(conn_->width(), conn_->height());
  dirty_.take();
  return (clock_.now() - connect_started_).count();
}

void DesktopLink::on_resize(int w, int h) {
  log_->info("desktop size {}x{}", w, h);
  gate_.resized();
  if (!gate_.fresh() && conn_) {  // a live size change: new texture, everything is new
    listener_.desktop_resized(w, h);
    dirty_.set_bounds(w, h);
  }
}

void DesktopLink::on_rect(const Rect& r) {
  ++stats_.rects;
  if (gate_.fresh()) gate_.decoded(r.area());
  else dirty_.add(r);
}

void DesktopLink::on_update_done() {
  if (!conn_) return;
  if (gate_.fresh()) {
    fresh_update();
    return;
  }
  auto rects = dirty_.take();
  if (rects.empty()) return;
  listener_.picture_changed(rects);
}

// An update of the new connection's picture: complete and not black, it may replace the one on screen.
void DesktopLink::fresh_update() {
  if (!gate_.complete(static_cast<long>(conn_->width()) * conn_->height())) {
    log_->debug("partial update while connecting: {} px covered, {} ms after connecting", gate_.covered(),
                gate_.since_connect(clock_.now()).count());
    return;
  }
  auto colour = uniform_colour(conn_->pixels(), conn_->width(), conn_->height(), conn_->stride());
  bool black = colour && *colour == 0;
  log_->debug("update while connecting: {} px covered, {} ms after connecting{}", gate_.covered(),
              gate_.since_connect(clock_.now()).count(), black ? ", all black: QEMU's stale surface, waiting" : "");
  if (black) return;
  if (display_open_) listener_.picture_ready();
  else frame_waiting_ = true;  // decoded while SDL starts: shown as soon as the window exists
}

}  // namespace labdesk::viewer
