// Scaling math (fit the desktop to the screen keeping its aspect ratio, letterboxed) and the
// dirty-rectangle accumulation that decides what is uploaded to the texture.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace labdesk::viewer {

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
  [[nodiscard]] bool empty() const { return w <= 0 || h <= 0; }
  [[nodiscard]] long area() const { return empty() ? 0 : static_cast<long>(w) * h; }
  friend bool operator==(const Rect&, const Rect&) = default;
};

struct Point {
  int x = 0, y = 0;
  friend bool operator==(const Point&, const Point&) = default;
};

Rect intersect(const Rect& a, const Rect& b);
Rect bounding(const Rect& a, const Rect& b);

// Where a src_w×src_h desktop is drawn inside a dst_w×dst_h window: as large as fits, aspect
// ratio kept, centred (the rest is letterbox). Never upscales beyond `max_scale`.
Rect fit(int src_w, int src_h, int dst_w, int dst_h, double max_scale = 16.0);

// A window position mapped to desktop coordinates (clamped to the desktop, so a pointer in the
// letterbox moves to the nearest edge rather than being dropped).
Point to_desktop(const Rect& view, int fb_w, int fb_h, Point window);

// The colour (0xRRGGBB) of a w×h XRGB8888 picture when every pixel has it, else nothing: QEMU's
// surface before the guest draws is one colour, a real desktop practically never is.
std::optional<std::uint32_t> uniform_colour(const std::uint8_t* pixels, int w, int h, int stride);

// Collects the rectangles changed during one framebuffer update. Overlapping rectangles are
// merged; past `max_rects` everything collapses into the bounding box (one big upload beats
// hundreds of tiny ones).
class DirtyRegion {
 public:
  explicit DirtyRegion(std::size_t max_rects = 64) : max_rects_(max_rects) {}
  void set_bounds(int w, int h) { bounds_ = Rect{0, 0, w, h}; }
  void add(Rect r);
  void add_all() { add(bounds_); }
  [[nodiscard]] bool empty() const { return rects_.empty(); }
  [[nodiscard]] long area() const;
  // The accumulated rectangles; the region is empty afterwards.
  std::vector<Rect> take();

 private:
  Rect bounds_{};
  std::size_t max_rects_;
  std::vector<Rect> rects_;
};

}  // namespace labdesk::viewer
