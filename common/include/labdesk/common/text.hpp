// Text that came from outside (a lab PC, a request path, a config file) made safe to echo in a
// message, a log line or a JSON string: a student controls these bytes.
#pragma once

#include <string>
#include <string_view>

namespace labdesk {

// Control characters and bytes that are not part of valid UTF-8 become "\xNN" (a newline "\n"),
// so an echoed value can neither forge a log line nor make a JSON encoder throw.
std::string printable(std::string_view s);

// printable(), and '"' and '\' escaped too: the contents of a JSON string.
std::string json_escaped(std::string_view s);

// Length of the valid UTF-8 sequence starting at s[i], or 0 if there is none.
std::size_t utf8_sequence(std::string_view s, std::size_t i);

}  // namespace labdesk
