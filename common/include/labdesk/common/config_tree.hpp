// The generic half of the config pipeline: parse TOML keeping positions, fill defaults from one
// schema table, reject unknown keys (with a did-you-mean), and check each value's type. What the
// values mean is checked by the typed layer on top (lab_config.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "labdesk/common/error.hpp"

namespace labdesk::config {

struct Position {
  int line = 0;  // 1-based; 0 when the value came from the defaults table
  int column = 0;
};

struct Problem {
  std::string key;  // "tiers.mib[2]", "hosts[0].capacity_mib", or "" for the file itself
  Position where;
  std::string message;  // names the problem and the fix
};

// Every problem found in one pass, so an admin fixes them all at once.
class Problems {
 public:
  void add(std::string key, Position where, std::string message);
  [[nodiscard]] bool empty() const { return items_.empty(); }
  [[nodiscard]] const std::vector<Problem>& items() const { return items_; }
  // "FILE:LINE:COL: KEY: MESSAGE" lines, in file order.
  [[nodiscard]] std::string report(std::string_view source) const;

 private:
  std::vector<Problem> items_;
};

// Thrown when a config cannot be used; what() is the full report.
class ConfigError : public Failure {
 public:
  ConfigError(std::string source, Problems problems);
  [[nodiscard]] const Problems& problems() const { return problems_; }

 private:
  Problems problems_;
};

enum class Kind { integer, number, boolean, string, integer_array, string_array };

using Value = std::variant<std::int64_t, double, bool, std::string, std::vector<std::int64_t>,
                           std::vector<std::string>>;

// Stores a checked value into the member its key is bound to; `section` is what the key's
// SectionSpec::locate returned.
using Assign = void (*)(void* section, const Value& value);
// The struct a section's keys land in: `config` is the whole typed config; `index` counts the
// tables of an array of tables ([[hosts]]), which grows to hold it.
using Locate = void* (*)(void* config, std::size_t index);

struct KeySpec {
  std::string_view key;
  Kind kind;
  std::optional<Value> fallback;  // nullopt: the key is required
  std::string_view doc;           // one line for the config reference
  Assign assign = nullptr;        // set by key<&Struct::member>(): where the value goes
};

struct SectionSpec {
  std::string_view name;
  bool array_of_tables;  // [[hosts]] rather than [tiers]
  bool required;
  std::span<const KeySpec> keys;
  std::string_view missing_hint;  // the fix shown when a required section is absent
  std::string_view doc;
  Locate locate = nullptr;        // set by section<&Config::member>() or whole<Config>()
};

// --- Declaring a key once (TigerVNC's way): name, default and doc bound to the struct member
// that holds the value; the kind follows from the member's type.

template <typename T> struct KindOf;
template <> struct KindOf<std::int64_t> { static constexpr Kind value = Kind::integer; };
template <> struct KindOf<double> { static constexpr Kind value = Kind::number; };
template <> struct KindOf<bool> { static constexpr Kind value = Kind::boolean; };
template <> struct KindOf<std::string> { static constexpr Kind value = Kind::string; };
template <> struct KindOf<std::vector<std::int64_t>> { static constexpr Kind value = Kind::integer_array; };
template <> struct KindOf<std::vector<std::string>> { static constexpr Kind value = Kind::string_array; };

template <auto Member> struct MemberOf;
template <typename S, typename T, T S::*M>
struct MemberOf<M> {
  using Struct = S;
  using Type = T;
  // How the TOML value is held: a narrower integer member (a port) is read as a whole number and
  // range-checked by the config's validation.
  using Stored = std::conditional_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, std::int64_t, T>;
};

// `fallback` nullopt: the key is required.
template <auto Member>
KeySpec key(std::string_view name, std::optional<typename MemberOf<Member>::Stored> fallback, std::string_view doc) {
  using M = MemberOf<Member>;
  return KeySpec{name, KindOf<typename M::Stored>::value,
                 fallback ? std::optional<Value>(Value{std::move(*fallback)}) : std::nullopt, doc,
                 [](void* section, const Value& v) {
                   // A value of the wrong type was reported by the tree already; it stays unset.
                   if (const auto* x = std::get_if<typename M::Stored>(&v)) {
                     static_cast<typename M::Struct*>(section)->*Member = static_cast<typename M::Type>(*x);
                   }
                 }};
}

// A section whose keys are members of the config itself (a flat config).
template <typename Config>
void* whole(void* config, std::size_t) { return config; }

// A [section] held in a member struct, or an [[array]] held in a member vector.
template <auto Member>
void* section(void* config, std::size_t index) {
  using M = MemberOf<Member>;
  auto& held = static_cast<typename M::Struct*>(config)->*Member;
  if constexpr (requires(typename M::Type& v) { v.resize(std::size_t{1}); }) {
    if (held.size() <= index) held.resize(index + 1);
    return &held[index];
  } else {
    return &held;
  }
}

struct Entry {
  Value value;
  Position where;
  bool defaulted = false;
};

// What a reader does with a top-level section its schema does not declare: an error (a daemon
// reading its own file), or left to the daemon that owns it (labdesk-plan reading the planner's
// sections of the boot-server's file).
enum class OtherSections { rejected, ignored };

// A checked tree of values by flat path: "tiers.mib", "hosts[1].name".
class Tree {
 public:
  [[nodiscard]] const Entry* find(const std::string& path) const;
  [[nodiscard]] std::size_t count(std::string_view array_section) const;
  [[nodiscard]] Position position(const std::string& path) const;

  template <typename T>
  [[nodiscard]] const T& get(const std::string& path) const {
    return std::get<T>(at(path).value);
  }

  // Parses and checks `text`; problems found are added to `problems` (the tree then holds what
  // could be read, so meaning checks can still run and report more).
  static Tree parse(std::string_view text, std::span<const SectionSpec> schema, Problems& problems,
                    OtherSections others = OtherSections::rejected);

 private:
  [[nodiscard]] const Entry& at(const std::string& path) const;
  std::map<std::string, Entry, std::less<>> entries_;
  std::map<std::string, std::size_t, std::less<>> counts_;
  std::map<std::string, Position, std::less<>> section_positions_;
  std::map<std::string, Position, std::less<>> element_positions_;
  friend class TreeBuilder;
};

// Assigns every value of `tree` through its key's binding into `config` (the struct the schema's
// locate functions expect): the typed config, with no key named a second time.
void bind(const Tree& tree, std::span<const SectionSpec> schema, void* config);

// The closest known name within two edits, for "did you mean" hints.
std::optional<std::string_view> closest(std::string_view word, std::span<const std::string_view> known);

// The text of a config file; a missing or unreadable file is a ConfigError naming the fix.
std::string read_config_file(const std::string& path);

// Renders the schema as a Markdown config reference (docs/config.md is generated from it).
std::string reference_markdown(std::span<const SectionSpec> schema);

}  // namespace labdesk::config
