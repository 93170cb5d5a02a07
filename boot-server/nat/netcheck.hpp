// Start-up checks of the lab interface through libnl-route.
#pragma once

#include <string>

#include "labdesk/common/error.hpp"

namespace labdesk::boot {

// The interface exists and carries `cidr` ("10.77.0.1/24"); error says what is missing and
// how to fix it. A link that is down only warns through `warning`.
Result<void> check_lab_interface(const std::string& interface, const std::string& cidr, std::string& warning);

}  // namespace labdesk::boot
