#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "labdesk/common/text.hpp"

using namespace labdesk;

TEST_CASE("printable: control characters and broken UTF-8 are escaped, valid UTF-8 is kept") {
  CHECK(printable("alice") == "alice");
  CHECK(printable("a\nb") == "a\\nb");
  CHECK(printable("x\r\x1b[31m") == "x\\x0d\\x1b[31m");
  CHECK(printable("\xff") == "\\xff");
  CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(printable("\xe2\x82\xac 5") == "\xe2\x82\xac 5");
  CHECK(printable("\xc0\xaf") == "\\xc0\\xaf");          // overlong '/'
  CHECK(printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a UTF-16 surrogate
  CHECK(printable("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
  CHECK(printable("\xe2\x82") == "\\xe2\\x82");           // cut short
  CHECK(printable(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(printable("\x7f") == "\\x7f");
}

TEST_CASE("json_escaped: the result is always the contents of a valid JSON string") {
  for (std::string s : {std::string("plain"), std::string("q\"uote\\"), std::string("\xff\n\x01"),
                        std::string("mac\",\"level\":\"error")}) {
    auto parsed = nlohmann::json::parse("\"" + json_escaped(s) + "\"");
    CHECK(parsed.is_string());
    if (s == "plain") CHECK(parsed == "plain");
    if (s[0] == 'q') CHECK(parsed == s);
  }
}
