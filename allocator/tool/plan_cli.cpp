#include "plan_cli.hpp"

#include <iomanip>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "json_io.hpp"
#include "labdesk/allocator/planner.hpp"
#include "labdesk/allocator/from_config.hpp"
#include "labdesk/common/planner_config.hpp"

namespace labdesk::plan_cli {
namespace {

using json = nlohmann::ordered_json;

struct Settings {
  std::string config_file;
  std::vector<std::int64_t> hosts;
  std::vector<std::int64_t> tiers;
  std::string mode;
};

void add_settings(CLI::App* cmd, Settings& s) {
  cmd->add_option("--config", s.config_file, "admin config (TOML) to read tiers, hosts, placement from");
  cmd->add_option("--hosts", s.hosts, "host capacities in MiB, e.g. 4096,4096")->delimiter(',');
  cmd->add_option("--tiers", s.tiers, "tier sizes in MiB, largest first, e.g. 4096,2048,1024,512")
      ->delimiter(',');
  cmd->add_option("--mode", s.mode, "handoff (default) or balloon");
}

// Flags override the config file; both go through the same meaning checks.
alloc::Cluster resolve(const Settings& s, alloc::Policy& policy) {
  config::PlannerConfig c = s.config_file.empty() ? config::planner_defaults()
                                                  : config::load_planner_config(s.config_file);
  if (!s.hosts.empty()) {
    c.hosts.clear();
    for (std::size_t i = 0; i < s.hosts.size(); ++i) {
      c.hosts.push_back({"host" + std::to_string(i), "", "", s.hosts[i], 0});
    }
  }
  if (!s.tiers.empty()) c.tiers.mib = s.tiers;
  if (!s.mode.empty()) c.tiers.mode = s.mode;
  auto problems = config::validate_planner(c);
  if (!problems.empty()) {
    throw config::ConfigError(s.config_file.empty() ? "arguments" : s.config_file + " + arguments",
                              std::move(problems));
  }
  policy = config::planner_policy(c);
  alloc::Cluster cluster;
  for (const auto& h : c.hosts) cluster.hosts.push_back({h.name, h.capacity_mib, h.reserved_mib, 0, 0});
  return cluster;
}

std::string gib(alloc::Mib mib) {
  std::ostringstream o;
  o << static_cast<double>(mib) / 1024.0;
  return o.str();
}

int table(const Settings& s, int users, bool text, Io io) {
  alloc::Policy policy;
  alloc::Cluster cluster = resolve(s, policy);
  alloc::Planner planner(policy);
  alloc::TierTable tiers(cluster.hosts, policy.tiers);
  json rows = json::array();
  for (int n = 1; n <= users; ++n) {
    auto plan = planner.arrive(cluster, "u" + std::to_string(n));
    if (plan->rejected()) {
      rows.push_back({{"users", n}, {"error", plan->steps.front().reason}});
      break;
    }
    cluster = planner.apply(std::move(cluster), *plan).value();
    json alloc_mib = json::array();
    alloc::Mib used = 0;
    for (const auto& vm : cluster.users) { alloc_mib.push_back(vm.mib); used += vm.mib; }
    rows.push_back({{"users", n}, {"tier", tiers.tier_for(static_cast<std::size_t>(n))},
                    {"alloc_mib", alloc_mib}, {"free_mib", tiers.capacity() - used}});
  }
  if (!text) {
    io.out << "[\n";
    for (std::size_t i = 0; i < rows.size(); ++i) io.out << rows[i].dump() << (i + 1 < rows.size() ? ",\n" : "\n");
    io.out << "]\n";
    return 0;
  }
  io.out << "users  tier  allocation in GiB, connection order" << std::string(35, ' ') << "free GiB\n";
  for (const auto& r : rows) {
    io.out << std::setw(5) << r["users"].get<int>() << "  ";
    if (r.contains("error")) { io.out << "rejected: " << r["error"].get<std::string>() << '\n'; continue; }
    std::string line;
    for (const auto& m : r["alloc_mib"]) line += gib(m.get<alloc::Mib>()) + " ";
    io.out << std::setw(4) << r["tier"].get<int>() << "  " << std::left << std::setw(70) << line
           << std::right << gib(r["free_mib"].get<alloc::Mib>()) << '\n';
  }
  return 0;
}

// Checks one input line's shape; returns the problem, or "" when it is a valid event.
std::string check_event(const json& e) {
  if (!e.is_object()) return "expected a JSON object like {\"arrive\":\"u1\"}";
  if (e.size() != 1) return "expected exactly one of \"arrive\", \"depart\", \"grow\"";
  if (e.contains("arrive") || e.contains("depart")) {
    const auto& v = e.begin().value();
    if (!v.is_string() || v.get<std::string>().empty()) return "\"" + e.begin().key() + "\" needs a non-empty user name string";
    return "";
  }
  if (e.contains("grow")) return e["grow"] == true ? "" : "\"grow\" takes true";
  return "unknown event '" + e.begin().key() + "': use \"arrive\", \"depart\" or \"grow\"";
}

// "  start    carol  on host 0  2048 MiB" lines, then who runs where.
void print_text(const json& line, std::ostream& out) {
  out << line["event"].dump() << (line.contains("error") ? "  error: " + line["error"].get<std::string>() : "") << '\n';
  for (const auto& s : line["steps"]) {
    out << "  " << std::left << std::setw(8) << s["op"].get<std::string>() << std::setw(10)
        << s["user"].get<std::string>() << std::right;
    if (s.contains("reason")) { out << s["reason"].get<std::string>() << '\n'; continue; }
    out << "host " << s["host"].get<std::size_t>() << "  " << s["mib"].get<alloc::Mib>() << " MiB\n";
  }
  out << "  now:";
  for (const auto& u : line["users"]) {
    out << ' ' << u["user"].get<std::string>() << '=' << u["mib"].get<alloc::Mib>() << "@" << u["host"].get<std::size_t>();
  }
  out << '\n';
}

int simulate(const Settings& s, bool text, Io io) {
  alloc::Policy policy;
  alloc::Cluster cluster = resolve(s, policy);
  alloc::Planner planner(policy);
  std::string line;
  int lineno = 0;
  bool any_error = false;
  while (std::getline(io.in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json out;
    json event = json::parse(line, nullptr, false);
    std::string problem = event.is_discarded() ? "not valid JSON" : check_event(event);
    out["event"] = event.is_discarded() ? json(line) : event;
    std::expected<alloc::Plan, std::string> plan;
    if (problem.empty()) {
      if (event.contains("arrive")) plan = planner.arrive(cluster, event["arrive"]);
      else if (event.contains("depart")) plan = planner.depart(cluster, event["depart"]);
      else plan = planner.grow(cluster);
      if (!plan) problem = plan.error();
    }
    if (!problem.empty()) {
      io.err << "line " << lineno << ": " << problem << '\n';
      any_error = true;
      out["error"] = problem;
      out["steps"] = json::array();
    } else {
      auto next = planner.apply(cluster, *plan);
      if (!next) throw std::logic_error("planner produced an invalid plan: " + next.error());
      cluster = std::move(*next);
      out["steps"] = steps_json(*plan);
    }
    out["users"] = users_json(cluster);
    out["hosts"] = hosts_json(cluster);
    if (text) print_text(out, io.out);
    else io.out << out.dump() << '\n' << std::flush;
  }
  return any_error ? 1 : 0;
}

}  // namespace

int run(int argc, const char* const* argv, Io io) {
  CLI::App app{"labdesk-plan: plan VM memory tiers and hard handoffs for a lab"};
  app.require_subcommand(1);
  Settings s;
  int users = 16;
  bool text = false;
  auto* tbl = app.add_subcommand("table", "print each user count's allocation, as in the paper's Table 3");
  add_settings(tbl, s);
  tbl->add_option("--users", users, "how many users arrive, one by one")->check(CLI::Range(1, 1000000));
  tbl->add_flag("--text", text, "a table for people instead of JSON");
  auto* sim = app.add_subcommand("simulate", "read arrive/depart/grow events as JSON lines on stdin, print each plan");
  add_settings(sim, s);
  sim->add_flag("--text", text, "steps for people instead of JSON lines");
  auto* chk = app.add_subcommand("check", "validate the settings (--config and flags) and exit");
  add_settings(chk, s);
  try {
    app.parse(argc, argv);
    if (tbl->parsed()) return table(s, users, text, io);
    if (sim->parsed()) return simulate(s, text, io);
    alloc::Policy policy;
    resolve(s, policy);
    io.out << "config ok: [tiers], [placement], [[hosts]] (labdesk-boot-server --check-config checks the rest of a lab config)\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    return app.exit(e, io.out, io.err) == 0 ? 0 : 2;
  } catch (const Failure& e) {
    io.err << "labdesk-plan: " << e.what() << (std::string(e.what()).ends_with('\n') ? "" : "\n");
    return 2;
  }
}

}  // namespace labdesk::plan_cli
