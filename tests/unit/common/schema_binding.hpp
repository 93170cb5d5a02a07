// Shared by the config tests: every key a schema declares is bound to a member of the typed
// config, and no two keys to the same one (a key declared without a member would be parsed,
// documented and then silently dropped).
#pragma once

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "labdesk/common/config_tree.hpp"

namespace labdesk::test {

template <typename Config>
void check_every_key_lands_in_its_own_member(std::span<const config::SectionSpec> schema) {
  using config::Kind;
  using config::Value;
  for (const auto& sec : schema) {
    REQUIRE(static_cast<bool>(sec.locate));
    for (const auto& k : sec.keys) {
      const std::string name = std::string(sec.name) + "." + std::string(k.key);
      CAPTURE(name);
      REQUIRE(static_cast<bool>(k.assign));
      auto set = [&](const Value& v) {
        Config c{};
        k.assign(sec.locate(&c, 0), v);
        return c;
      };
      switch (k.kind) {
        case Kind::boolean: CHECK_FALSE(set(Value{true}) == set(Value{false})); break;
        case Kind::integer: CHECK_FALSE(set(Value{std::int64_t{4321}}) == set(Value{std::int64_t{1234}})); break;
        case Kind::number: CHECK_FALSE(set(Value{0.25}) == set(Value{0.75})); break;
        case Kind::string: CHECK_FALSE(set(Value{std::string("a")}) == set(Value{std::string("b")})); break;
        case Kind::integer_array:
          CHECK_FALSE(set(Value{std::vector<std::int64_t>{1}}) == set(Value{std::vector<std::int64_t>{2}}));
          break;
        case Kind::string_array:
          CHECK_FALSE(set(Value{std::vector<std::string>{"a"}}) == set(Value{std::vector<std::string>{"b"}}));
          break;
      }
      // Its own member: setting this key leaves every other key's value as it was.
      for (const auto& other : sec.keys) {
        if (other.key == k.key || other.kind != k.kind || k.kind != Kind::string) continue;
        Config a{};
        k.assign(sec.locate(&a, 0), Value{std::string("x")});
        Config b = a;
        other.assign(sec.locate(&b, 0), Value{std::string("y")});
        CHECK_FALSE(a == b);
        Config again = b;
        k.assign(sec.locate(&again, 0), Value{std::string("x")});
        CHECK(again == b);
      }
    }
  }
}

}  // namespace labdesk::test
