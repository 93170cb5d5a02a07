// Clipboard text between SDL (UTF-8) and RFB's basic clipboard (Latin-1).
#include <doctest/doctest.h>

#include <string>

#include "labdesk/viewer/clipboard.hpp"

using namespace labdesk::viewer;

TEST_CASE("clipboard: every Latin-1 character survives the round trip through UTF-8") {
  std::string all;
  for (int c = 1; c <= 0xFF; ++c) all += static_cast<char>(c);
  auto utf8 = latin1_to_utf8(all);
  CHECK(utf8.size() == 0x7F + 2 * 0x80);  // ASCII one byte each, the upper half two
  CHECK(utf8_to_latin1(utf8) == all);
  CHECK(latin1_to_utf8("caf\xE9") == "caf\xC3\xA9");
  CHECK(utf8_to_latin1("\xC3\x9F" "e") == "\xDF" "e");
  CHECK(latin1_to_utf8("").empty());
  CHECK(utf8_to_latin1("").empty());
}

TEST_CASE("clipboard: characters beyond Latin-1 become one '?' each") {
  CHECK(utf8_to_latin1("\xC4\x80") == "?");                      // U+0100, two bytes
  CHECK(utf8_to_latin1("5 \xE2\x82\xAC") == "5 ?");              // the euro sign, three bytes
  CHECK(utf8_to_latin1("a\xF0\x9F\x98\x80" "b") == "a?b");       // an emoji, four bytes
  CHECK(utf8_to_latin1("\xE2\x82\xAC\xE2\x82\xAC") == "??");
}

TEST_CASE("clipboard: invalid UTF-8 gives '?' without losing the text around it") {
  CHECK(utf8_to_latin1("a\x80" "b") == "a?b");          // a stray continuation byte
  CHECK(utf8_to_latin1("a\x80\xBF\x80" "b") == "a?b");  // a run of them is one bad sequence
  CHECK(utf8_to_latin1("ab\xC3") == "ab?");             // cut short at the end
  CHECK(utf8_to_latin1("ab\xE2\x82") == "ab?");
  CHECK(utf8_to_latin1("\xFF" "x") == "?x");            // never a lead byte
  CHECK(utf8_to_latin1("\xC3" "A") == "?A");            // a lead byte without its continuation
}
