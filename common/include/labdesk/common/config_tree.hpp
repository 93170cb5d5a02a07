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

struct KeySpec {
  std::string_view key;
  Kind kind;
  std::optional<Value> fallback;  // nullopt: the key is required
  std::string_view doc;           // one line for the config reference
};

struct SectionSpec {
  std::string_view name;
  bool array_of_tables;  // [[hosts]] rather than [tiers]
  bool required;
  std::span<const KeySpec> keys;
  std::string_view missing_hint;  // the fix shown when a required section is absent
  std::string_view doc;
};

struct Entry {
  Value value;
  Position where;
  bool defaulted = false;
};

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
  static Tree parse(std::string_view text, std::span<const SectionSpec> schema, Problems& problems);

 private:
  [[nodiscard]] const Entry& at(const std::string& path) const;
  std::map<std::string, Entry, std::less<>> entries_;
  std::map<std::string, std::size_t, std::less<>> counts_;
  std::map<std::string, Position, std::less<>> section_positions_;
  std::map<std::string, Position, std::less<>> element_positions_;
  friend class TreeBuilder;
};

// The closest known name within two edits, for "did you mean" hints.
std::optional<std::string_view> closest(std::string_view word, std::span<const std::string_view> known);

// Renders the schema as a Markdown config reference (docs/config.md is generated from it).
std::string reference_markdown(std::span<const SectionSpec> schema);

}  // namespace labdesk::config
