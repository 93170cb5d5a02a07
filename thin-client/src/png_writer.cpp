#include "png_writer.hpp"

#include <png.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace labdesk::viewer {

Result<void> write_png(const std::string& path, const std::uint8_t* pixels, int w, int h, int stride) {
  std::vector<png_byte> rgb(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3);
  for (int y = 0; y < h; ++y) {
    const auto* src = pixels + static_cast<std::ptrdiff_t>(y) * stride;
    png_byte* dst = rgb.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(w) * 3;
    for (int x = 0; x < w; ++x) {
      std::uint32_t p = 0;
      std::memcpy(&p, src + 4 * x, 4);
      dst[3 * x] = static_cast<png_byte>(p >> 16U);
      dst[3 * x + 1] = static_cast<png_byte>(p >> 8U);
      dst[3 * x + 2] = static_cast<png_byte>(p);
    }
  }
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(w);
  image.height = static_cast<png_uint_32>(h);
  image.format = PNG_FORMAT_RGB;
  image.flags = PNG_IMAGE_FLAG_FAST;  // a test hook: fast beats small
  // Write next to the target and rename: a test polling for the file never reads half a PNG.
  const std::string tmp = path + ".tmp";
  if (!png_image_write_to_file(&image, tmp.c_str(), 0, rgb.data(), 0, nullptr)) {
    const std::string why = image.message;
    png_image_free(&image);
    return fail("screenshot_failed", "cannot write screenshot '" + path + "': " + why, 500);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return fail("screenshot_failed", "cannot rename screenshot to '" + path + "'", 500);
  return {};
}

}  // namespace labdesk::viewer
