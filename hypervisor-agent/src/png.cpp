#include "labdesk/agent/png.hpp"

#include <png.h>

#include <cctype>
#include <string>

namespace labdesk::agent {
namespace {

// Reads the next header token of a PPM, skipping whitespace and '#' comments.
bool token(const std::vector<unsigned char>& b, std::size_t& pos, std::string& out) {
  out.clear();
  while (pos < b.size()) {
    if (b[pos] == '#') {
      while (pos < b.size() && b[pos] != '\n') ++pos;
    } else if (std::isspace(b[pos])) {
      ++pos;
    } else {
      break;
    }
  }
  while (pos < b.size() && !std::isspace(b[pos])) out += static_cast<char>(b[pos++]);
  return !out.empty();
}

void append(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<unsigned char>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}

void flush_nothing(png_structp) {}

}  // namespace

Result<std::vector<unsigned char>> ppm_to_png(const std::vector<unsigned char>& ppm) {
  std::size_t pos = 0;
  std::string magic, w, h, maxval;
  if (!token(ppm, pos, magic) || magic != "P6" || !token(ppm, pos, w) || !token(ppm, pos, h) ||
      !token(ppm, pos, maxval)) {
    return fail("bad_image", "screenshot is not a binary PPM (P6) image", 500);
  }
  ++pos;  // the single whitespace after maxval
  unsigned long width = 0, height = 0;
  try {
    width = std::stoul(w);
    height = std::stoul(h);
  } catch (const std::exception&) {
    return fail("bad_image", "screenshot has a bad size '" + w + "x" + h + "'", 500);
  }
  if (maxval != "255" || width == 0 || height == 0 || width > 16384 || height > 16384 ||
      ppm.size() < pos + width * height * 3) {
    return fail("bad_image", "screenshot PPM '" + w + "x" + h + "' maxval '" + maxval + "' is truncated or unsupported", 500);
  }
  std::vector<unsigned char> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    return fail("bad_image", "libpng could not start", 500);
  }
  // libpng reports errors by longjmp; nothing here owns resources that need unwinding.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return fail("bad_image", "libpng failed to encode the screenshot", 500);
  }
  png_set_write_fn(png, &out, append, flush_nothing);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 3);
  png_write_info(png, info);
  for (unsigned long y = 0; y < height; ++y) {
    png_write_row(png, const_cast<png_bytep>(ppm.data() + pos + y * width * 3));
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

}  // namespace labdesk::agent
