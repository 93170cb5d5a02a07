#include "labdesk/viewer/clipboard.hpp"

namespace labdesk::viewer {

std::string latin1_to_utf8(const std::string& in) {
  std::string out;
  for (char ch : in) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0U | (c >> 6U));
      out += static_cast<char>(0x80U | (c & 0x3FU));
    }
  }
  return out;
}

std::string utf8_to_latin1(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if ((c & 0xE0U) == 0xC0U && i + 1 < in.size() &&
               (static_cast<unsigned char>(in[i + 1]) & 0xC0U) == 0x80U) {
      unsigned cp = ((c & 0x1FU) << 6U) | (static_cast<unsigned char>(in[++i]) & 0x3FU);
      out += cp <= 0xFF ? static_cast<char>(cp) : '?';
    } else {
      out += '?';  // RFB's basic clipboard is Latin-1
      while (i + 1 < in.size() && (static_cast<unsigned char>(in[i + 1]) & 0xC0U) == 0x80U) ++i;
    }
  }
  return out;
}

}  // namespace labdesk::viewer
