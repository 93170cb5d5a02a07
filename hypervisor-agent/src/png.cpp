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
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = PNG_FORMAT_RGB;
  const unsigned char* pixels = ppm.data() + pos;
  // The worst case up front: one pass of compression, not a sizing pass and a real one.
  std::vector<unsigned char> out(PNG_IMAGE_PNG_SIZE_MAX(image));
  png_alloc_size_t size = out.size();
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, pixels, 0, nullptr)) {
    const std::string why = image.message;
    png_image_free(&image);
    return fail("bad_image", "libpng failed to encode the screenshot: " + why, 500);
  }
  out.resize(size);
  return out;
}

}  // namespace labdesk::agent
