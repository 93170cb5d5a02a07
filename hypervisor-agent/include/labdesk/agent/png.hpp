// QEMU's screendump is a binary PPM (P6); the dashboard wants PNG.
#pragma once

#include <vector>

#include "labdesk/common/error.hpp"

namespace labdesk::agent {

Result<std::vector<unsigned char>> ppm_to_png(const std::vector<unsigned char>& ppm);

}  // namespace labdesk::agent
