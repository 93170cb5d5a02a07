// PNG out of an XRGB8888 framebuffer (libpng): the --screenshot test hook.
#pragma once

#include <cstdint>
#include <string>

#include "labdesk/common/error.hpp"

namespace labdesk::viewer {

// `pixels`: rows of `stride` bytes, each pixel 0x00RRGGBB in host byte order.
Result<void> write_png(const std::string& path, const std::uint8_t* pixels, int w, int h, int stride);

}  // namespace labdesk::viewer
