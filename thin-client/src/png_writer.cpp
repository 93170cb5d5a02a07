#include "png_writer.hpp"

#include <png.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace labdesk::viewer {

Result<void> write_png(const std::string& path, const std::uint8_t* pixels, int w, int h, int stride) {
  // Write next to the target and rename: a test polling for the file never reads half a PNG.
  std::string tmp = path + ".tmp";
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
  if (!f) return fail("screenshot_failed", "cannot write screenshot '" + path + "'", 500);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) return fail("screenshot_failed", "libpng could not start", 500);
  std::vector<png_byte> row(static_cast<std::size_t>(w) * 3);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return fail("screenshot_failed", "libpng failed writing '" + path + "'", 500);
  }
  png_init_io(png, f.get());
  png_set_IHDR(png, info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 1);  // a test hook: fast beats small
  png_write_info(png, info);
  for (int y = 0; y < h; ++y) {
    const auto* src = pixels + static_cast<std::ptrdiff_t>(y) * stride;
    for (int x = 0; x < w; ++x) {
      std::uint32_t p = 0;
      std::memcpy(&p, src + 4 * x, 4);
      row[static_cast<std::size_t>(3 * x)] = static_cast<png_byte>(p >> 16U);
      row[static_cast<std::size_t>(3 * x + 1)] = static_cast<png_byte>(p >> 8U);
      row[static_cast<std::size_t>(3 * x + 2)] = static_cast<png_byte>(p);
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  f.reset();
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return fail("screenshot_failed", "cannot rename screenshot to '" + path + "'", 500);
  return {};
}

}  // namespace labdesk::viewer
