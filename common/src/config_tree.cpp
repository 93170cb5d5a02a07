#include "labdesk/common/config_tree.hpp"

#include <algorithm>
#include <sstream>

#include <toml++/toml.h>

#include "labdesk/common/file.hpp"

namespace labdesk::config {
namespace {

Position pos_of(const toml::source_region& r) {
  return Position{static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
}

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::integer: return "a whole number";
    case Kind::number: return "a number";
    case Kind::boolean: return "true or false";
    case Kind::string: return "a quoted string";
    case Kind::integer_array: return "a list of whole numbers";
    case Kind::string_array: return "a list of quoted strings";
  }
  return "?";
}

std::string_view node_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "a list";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "a whole number";
    case toml::node_type::floating_point: return "a decimal number";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date or time";
  }
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0U : 1U)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string unknown_message(std::string_view what, std::string_view name,
                            std::span<const std::string_view> known) {
  std::string msg = "unknown " + std::string(what) + " '" + std::string(name) + "'";
  if (auto near = closest(name, known)) {
    msg += ": did you mean '" + std::string(*near) + "'?";
  } else {
    msg += ": remove it; known: ";
    for (std::size_t i = 0; i < known.size(); ++i) msg += (i ? ", " : "") + std::string(known[i]);
  }
  return msg;
}

// Converts one TOML node to the schema's kind, or explains why it cannot.
std::optional<Value> convert(const toml::node& n, Kind kind, const std::string& path,
                             Problems& problems) {
  auto bad = [&](std::string detail) {
    problems.add(path, pos_of(n.source()), std::move(detail));
    return std::nullopt;
  };
  auto wrong_type = [&] {
    return bad("expected " + std::string(kind_name(kind)) + ", found " +
               std::string(node_type_name(n)));
  };
  switch (kind) {
    case Kind::integer:
      if (auto v = n.value_exact<std::int64_t>()) return Value{*v};
      return wrong_type();
    case Kind::number:
      if (auto v = n.value<double>(); v && (n.is_integer() || n.is_floating_point())) {
        return Value{*v};
      }
      return wrong_type();
    case Kind::boolean:
      if (auto v = n.value_exact<bool>()) return Value{*v};
      return wrong_type();
    case Kind::string:
      if (auto v = n.value_exact<std::string>()) return Value{*v};
      return wrong_type();
    case Kind::integer_array:
    case Kind::string_array: {
      const auto* arr = n.as_array();
      if (!arr) return wrong_type();
      std::vector<std::int64_t> ints;
      std::vector<std::string> strs;
      bool ok = true;
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const auto& el = *arr->get(i);
        std::string el_path = path + "[" + std::to_string(i) + "]";
        if (kind == Kind::integer_array) {
          if (auto v = el.value_exact<std::int64_t>()) { ints.push_back(*v); continue; }
          problems.add(el_path, pos_of(el.source()),
                       "expected a whole number, found " + std::string(node_type_name(el)));
        } else {
          if (auto v = el.value_exact<std::string>()) { strs.push_back(*v); continue; }
          problems.add(el_path, pos_of(el.source()),
                       "expected a quoted string, found " + std::string(node_type_name(el)));
        }
        ok = false;
      }
      if (!ok) return std::nullopt;
      if (kind == Kind::integer_array) return Value{std::move(ints)};
      return Value{std::move(strs)};
    }
  }
  return std::nullopt;
}

}  // namespace

void Problems::add(std::string key, Position where, std::string message) {
  items_.push_back(Problem{std::move(key), where, std::move(message)});
}

std::string Problems::report(std::string_view source) const {
  auto sorted = items_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Problem& a, const Problem& b) {
    return a.where.line != b.where.line ? a.where.line < b.where.line
                                        : a.where.column < b.where.column;
  });
  std::ostringstream out;
  for (const auto& p : sorted) {
    out << source;
    if (p.where.line > 0) out << ':' << p.where.line << ':' << p.where.column;
    out << ": ";
    if (!p.key.empty()) out << p.key << ": ";
    out << p.message << '\n';
  }
  return out.str();
}

ConfigError::ConfigError(std::string source, Problems problems)
    : Failure(Error{"bad_config",
                    "invalid config '" + source + "' (" + std::to_string(problems.items().size()) +
                        " problem" + (problems.items().size() == 1 ? "" : "s") + "):\n" +
                        problems.report(source),
                    400}),
      problems_(std::move(problems)) {}

void bind(const Tree& tree, std::span<const SectionSpec> schema, void* config) {
  for (const auto& sec : schema) {
    const std::string name(sec.name);
    if (!sec.locate) throw Failure(Error{"config_schema", "section '" + name + "' has no struct to land in (a bug)", 500});
    const std::size_t tables = sec.array_of_tables ? tree.count(sec.name) : 1;
    for (std::size_t i = 0; i < tables; ++i) {
      void* target = sec.locate(config, i);
      const std::string prefix = sec.array_of_tables ? name + "[" + std::to_string(i) + "]." : name + ".";
      for (const auto& k : sec.keys) {
        if (!k.assign) {
          throw Failure(Error{"config_schema", "key '" + prefix + std::string(k.key) +
                                                   "' is declared without a member: declare it with key<&Struct::member>() (a bug)", 500});
        }
        if (const Entry* e = tree.find(prefix + std::string(k.key))) k.assign(target, e->value);
      }
    }
  }
}

std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> known) {
  std::optional<std::string_view> best;
  std::size_t best_d = 3;
  for (auto k : known) {
    auto d = edit_distance(word, k);
    if (d < best_d) { best_d = d; best = k; }
  }
  return best;
}

class TreeBuilder {
 public:
  TreeBuilder(Tree& t, Problems& p, OtherSections others) : tree_(t), problems_(p), others_(others) {}

  void section(const SectionSpec& spec, const toml::table& tbl, const std::string& prefix) {
    std::vector<std::string_view> known;
    for (const auto& k : spec.keys) known.push_back(k.key);
    for (auto&& [key, node] : tbl) {
      auto it = std::find_if(spec.keys.begin(), spec.keys.end(),
                             [&](const KeySpec& k) { return k.key == key.str(); });
      std::string path = prefix + "." + std::string(key.str());
      if (it == spec.keys.end()) {
        problems_.add(path, pos_of(key.source()),
                      unknown_message("key", key.str(), known) + " (in [" +
                          std::string(spec.name) + "])");
        continue;
      }
      if (auto v = convert(node, it->kind, path, problems_)) {
        tree_.entries_[path] = Entry{std::move(*v), pos_of(node.source()), false};
      }
      if (const auto* arr = node.as_array()) {
        for (std::size_t i = 0; i < arr->size(); ++i) {
          tree_.element_positions_[path + "[" + std::to_string(i) + "]"] = pos_of(arr->get(i)->source());
        }
      }
    }
    for (const auto& k : spec.keys) {
      std::string path = prefix + "." + std::string(k.key);
      if (tree_.entries_.contains(path) || tbl.contains(k.key)) continue;
      if (k.fallback) {
        tree_.entries_[path] = Entry{*k.fallback, {}, true};
      } else {
        problems_.add(path, pos_of(tbl.source()),
                      "missing required key '" + std::string(k.key) + "': add it (" +
                          std::string(k.doc) + ")");
      }
    }
  }

  void root(const toml::table& root, std::span<const SectionSpec> schema) {
    std::vector<std::string_view> known;
    for (const auto& s : schema) known.push_back(s.name);
    for (auto&& [key, node] : root) {
      auto it = std::find_if(schema.begin(), schema.end(),
                             [&](const SectionSpec& s) { return s.name == key.str(); });
      if (it == schema.end()) {
        if (others_ == OtherSections::ignored) continue;
        problems_.add(std::string(key.str()), pos_of(key.source()),
                      unknown_message("section", key.str(), known));
        continue;
      }
      std::string name(it->name);
      tree_.section_positions_[name] = pos_of(node.source());
      if (it->array_of_tables) {
        const auto* arr = node.as_array();
        if (!arr || !arr->is_array_of_tables()) {
          problems_.add(name, pos_of(node.source()),
                        "expected [[" + name + "]] tables, found " + std::string(node_type_name(node)));
          continue;
        }
        tree_.counts_[name] = arr->size();
        for (std::size_t i = 0; i < arr->size(); ++i) {
          section(*it, *arr->get(i)->as_table(), name + "[" + std::to_string(i) + "]");
        }
      } else if (const auto* tbl = node.as_table()) {
        section(*it, *tbl, name);
      } else {
        problems_.add(name, pos_of(node.source()),
                      "expected a [" + name + "] table, found " + std::string(node_type_name(node)));
      }
    }
    for (const auto& s : schema) {
      std::string name(s.name);
      if (root.contains(s.name)) continue;
      if (s.required) {
        problems_.add(name, {}, std::string(s.missing_hint));
      } else if (!s.array_of_tables) {
        section(s, toml::table{}, name);  // fills defaults
      }
    }
  }

 private:
  Tree& tree_;
  Problems& problems_;
  OtherSections others_;
};

Tree Tree::parse(std::string_view text, std::span<const SectionSpec> schema, Problems& problems,
                 OtherSections others) {
  Tree tree;
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error& e) {
    problems.add("", pos_of(e.source()),
                 "not valid TOML: " + std::string(e.description()) +
                     " (fix the syntax at this position)");
    return tree;
  }
  TreeBuilder(tree, problems, others).root(root, schema);
  return tree;
}

const Entry* Tree::find(const std::string& path) const {
  auto it = entries_.find(path);
  return it == entries_.end() ? nullptr : &it->second;
}

const Entry& Tree::at(const std::string& path) const {
  if (const auto* e = find(path)) return *e;
  throw Failure(Error{"internal", "config key '" + path + "' read but not in the tree", 500});
}

std::size_t Tree::count(std::string_view array_section) const {
  auto it = counts_.find(array_section);
  return it == counts_.end() ? 0 : it->second;
}

Position Tree::position(const std::string& path) const {
  if (const auto* e = find(path)) return e->where;
  if (auto it = element_positions_.find(path); it != element_positions_.end()) return it->second;
  auto it = section_positions_.find(path);
  return it == section_positions_.end() ? Position{} : it->second;
}

std::string read_config_file(const std::string& path) {
  auto text = read_file(path);
  if (!text) {
    Problems p;
    p.add("", {}, "cannot read the config file: check the path and its permissions");
    throw ConfigError(path, std::move(p));
  }
  return std::move(*text);
}

std::string reference_markdown(std::span<const SectionSpec> schema) {
  std::ostringstream out;
  for (const auto& s : schema) {
    out << "## " << (s.array_of_tables ? "[[" : "[") << s.name << (s.array_of_tables ? "]]" : "]")
        << (s.required ? " (required)" : "") << "\n\n"
        << s.doc << "\n\n| key | type | default | meaning |\n|---|---|---|---|\n";
    for (const auto& k : s.keys) {
      std::string def = "required";
      if (k.fallback) {
        def = std::visit(
            [](const auto& v) -> std::string {
              using T = std::decay_t<decltype(v)>;
              if constexpr (std::is_same_v<T, std::string>) return "\"" + v + "\"";
              else if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
              else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>) {
                std::ostringstream o; o << v; return o.str();
              } else {
                std::ostringstream o; o << '[';
                for (std::size_t i = 0; i < v.size(); ++i) o << (i ? ", " : "") << v[i];
                o << ']'; return o.str();
              }
            },
            *k.fallback);
      }
      out << "| `" << k.key << "` | " << kind_name(k.kind) << " | `" << def << "` | " << k.doc
          << " |\n";
    }
    out << '\n';
  }
  return out.str();
}

}  // namespace labdesk::config
