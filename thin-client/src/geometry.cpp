#include "labdesk/viewer/geometry.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace labdesk::viewer {

Rect intersect(const Rect& a, const Rect& b) {
  int x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
  int x1 = std::min(a.x + a.w, b.x + b.w), y1 = std::min(a.y + a.h, b.y + b.h);
  if (x1 <= x0 || y1 <= y0) return Rect{};
  return Rect{x0, y0, x1 - x0, y1 - y0};
}

Rect bounding(const Rect& a, const Rect& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  int x0 = std::min(a.x, b.x), y0 = std::min(a.y, b.y);
  int x1 = std::max(a.x + a.w, b.x + b.w), y1 = std::max(a.y + a.h, b.y + b.h);
  return Rect{x0, y0, x1 - x0, y1 - y0};
}

std::optional<std::uint32_t> uniform_colour(const std::uint8_t* pixels, int w, int h, int stride) {
  if (!pixels || w <= 0 || h <= 0) return std::nullopt;
  auto at = [&](int x, int y) {
    std::uint32_t v = 0;
    std::memcpy(&v, pixels + static_cast<std::ptrdiff_t>(y) * stride + static_cast<std::ptrdiff_t>(x) * 4, 4);
    return v & 0xFFFFFFU;
  };
  const std::uint32_t first = at(0, 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (at(x, y) != first) return std::nullopt;
  return first;
}

Rect fit(int src_w, int src_h, int dst_w, int dst_h, double max_scale) {
  if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0) return Rect{};
  double scale = std::min(static_cast<double>(dst_w) / src_w, static_cast<double>(dst_h) / src_h);
  scale = std::min(scale, max_scale);
  // Exact fits stay exact (no off-by-one blur at 1:1 or 2:1).
  int w = std::min(dst_w, static_cast<int>(std::lround(src_w * scale)));
  int h = std::min(dst_h, static_cast<int>(std::lround(src_h * scale)));
  return Rect{(dst_w - w) / 2, (dst_h - h) / 2, w, h};
}

Point to_desktop(const Rect& view, int fb_w, int fb_h, Point window) {
  if (view.empty() || fb_w <= 0 || fb_h <= 0) return Point{};
  auto map = [](int v, int origin, int extent, int target) {
    double t = (static_cast<double>(v - origin) + 0.5) * target / extent;
    return std::clamp(static_cast<int>(std::floor(t)), 0, target - 1);
  };
  return Point{map(window.x, view.x, view.w, fb_w), map(window.y, view.y, view.h, fb_h)};
}

void DirtyRegion::add(Rect r) {
  r = intersect(r, bounds_);
  if (r.empty()) return;
  // Merge with everything it touches, repeatedly: the union can touch more.
  bool merged = true;
  while (merged) {
    merged = false;
    for (auto it = rects_.begin(); it != rects_.end(); ++it) {
      Rect grown{it->x - 1, it->y - 1, it->w + 2, it->h + 2};  // adjacent counts as touching
      if (!intersect(grown, r).empty()) {
        r = bounding(*it, r);
        rects_.erase(it);
        merged = true;
        break;
      }
    }
  }
  rects_.push_back(r);
  if (rects_.size() > max_rects_) {
    Rect all{};
    for (const auto& x : rects_) all = bounding(all, x);
    rects_.assign(1, all);
  }
}

long DirtyRegion::area() const {
  long a = 0;
  for (const auto& r : rects_) a += r.area();
  return a;
}

std::vector<Rect> DirtyRegion::take() {
  std::vector<Rect> out;
  out.swap(rects_);
  return out;
}

}  // namespace labdesk::viewer
