// Clipboard text between SDL (UTF-8) and RFB's basic clipboard (Latin-1). Pure.
#pragma once

#include <string>

namespace labdesk::viewer {

std::string latin1_to_utf8(const std::string& in);
// Characters beyond Latin-1, and bytes that start no valid sequence, become one '?' each:
// the desktop gets a placeholder where it cannot be given the character.
std::string utf8_to_latin1(const std::string& in);

}  // namespace labdesk::viewer
