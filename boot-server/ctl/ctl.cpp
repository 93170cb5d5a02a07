#include "ctl.hpp"

#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "labdesk/common/token_file.hpp"
#include "labdesk/http/client.hpp"

namespace labdesk::ctl {
namespace {

using nlohmann::json;

std::string cell(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  if (v.is_array()) return std::to_string(v.size());
  if (v.is_number_float()) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(0) << v.get<double>() * 100 << "%";
    return o.str();
  }
  return v.dump();
}

// Prints rows of objects as an aligned table of the given columns.
void table(std::ostream& out, const json& rows, const std::vector<std::pair<std::string, std::string>>& cols) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::size_t> width;
  for (const auto& [key, title] : cols) width.push_back(title.size());
  for (const auto& r : rows) {
    std::vector<std::string> line;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      auto text = cell(r.contains(cols[i].first) ? r[cols[i].first] : json());
      width[i] = std::max(width[i], text.size());
      line.push_back(std::move(text));
    }
    cells.push_back(std::move(line));
  }
  auto print = [&](const std::vector<std::string>& line) {
    for (std::size_t i = 0; i < line.size(); ++i) {
      out << std::left << std::setw(static_cast<int>(width[i]) + 2) << line[i];
    }
    out << '\n';
  };
  std::vector<std::string> head;
  for (const auto& [key, title] : cols) head.push_back(title);
  print(head);
  for (const auto& l : cells) print(l);
  if (rows.empty()) out << "(none)\n";
}

struct Options {
  std::string server;
  std::string token;
  std::string token_file;
  bool as_json = false;
};

int report(const Error& e, Io io) {
  io.err << "labdeskctl: " << e.message << " (" << e.code << ")\n";
  return e.code == "unreachable" || e.code == "timeout" ? 3 : 1;
}

}  // namespace

int run(int argc, const char* const* argv, Io io) {
  CLI::App app{"labdeskctl: administer a labdesk boot-server"};
  app.require_subcommand(1);
  Options o;
  if (const char* s = std::getenv("LABDESK_SERVER")) o.server = s;
  if (const char* t = std::getenv("LABDESK_TOKEN")) o.token = t;
  if (o.server.empty()) o.server = "http://127.0.0.1:8080";
  app.add_option("--server", o.server, "boot-server URL (env LABDESK_SERVER)");
  app.add_option("--token", o.token, "admin token (env LABDESK_TOKEN)");
  app.add_option("--token-file", o.token_file, "file holding the admin token");
  app.add_flag("--json", o.as_json, "print the API's JSON instead of a table");

  std::string id, host, name, password;
  bool admin = false, replace = false, live = false;
  int max = 20;
  auto* hosts = app.add_subcommand("hosts", "hosts with load, memory and desktops");
  auto* host_cmd = app.add_subcommand("host", "maintenance of one host");
  host_cmd->require_subcommand(1);
  auto* drain = host_cmd->add_subcommand("drain", "move every desktop off the host while it runs; it takes no new desktops");
  drain->add_option("name", name, "host name")->required();
  auto* undrain = host_cmd->add_subcommand("undrain", "let a drained host take desktops again");
  undrain->add_option("name", name, "host name")->required();
  auto* sessions = app.add_subcommand("sessions", "running sessions");
  auto* end = app.add_subcommand("end", "end a session (its desktop is shut down, its data disk kept)");
  end->add_option("session", id, "session id")->required();
  auto* move = app.add_subcommand("move", "hand a session's desktop over to another host");
  move->add_option("session", id, "session id")->required();
  move->add_option("host", host, "target host name")->required();
  move->add_flag("--live", live, "move it while it runs (live migration: open programs stay; needs shared data)");
  auto* users = app.add_subcommand("users", "list users");
  auto* useradd = app.add_subcommand("useradd", "add a user (--replace: set a new password)");
  useradd->add_option("name", name, "user name")->required();
  useradd->add_option("--password", password, "password (default: read a line from stdin)");
  useradd->add_flag("--admin", admin, "give the admin role");
  useradd->add_flag("--replace", replace, "set a new password for an existing user");
  auto* userdel = app.add_subcommand("userdel", "delete a user and end their session; say what happens to their data");
  userdel->add_option("name", name, "user name")->required();
  bool keep_data = false, delete_data = false;
  auto* keep_flag = userdel->add_flag("--keep-data", keep_data,
                                      "archive their data disk on every host (data_dir/retired/); a new user of the name starts empty");
  auto* delete_flag = userdel->add_flag("--delete-data", delete_data, "delete their data disk on every host");
  keep_flag->excludes(delete_flag);
  auto* events = app.add_subcommand("events", "recent events");
  events->add_option("--max", max, "how many")->check(CLI::Range(1, 1000));
  auto* tiers = app.add_subcommand("tiers", "memory tiers and where the lab is now");
  auto* grow = app.add_subcommand("grow", "grow users back to the current tier (restarts shrunk desktops)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, io.out, io.err) == 0 ? 0 : 2;
  }
  if (!o.token_file.empty()) {
    try {
      o.token = read_token_file(o.token_file);
    } catch (const Failure& e) {
      io.err << "labdeskctl: " << e.what() << '\n';
      return 2;
    }
  }
  std::optional<http::Client> client;
  try {
    client.emplace(o.server, http::ClientOptions{.bearer_token = o.token, .timeout = std::chrono::seconds(120)});
  } catch (const Failure& e) {
    io.err << "labdeskctl: " << e.what() << '\n';
    return 2;
  }
  auto show = [&](const Result<json>& r, auto&& human) {
    if (!r) return report(r.error(), io);
    if (o.as_json) io.out << r->dump(2) << '\n';
    else human(*r);
    return 0;
  };
  if (hosts->parsed()) {
    return show(client->get_json("/v1/admin/hosts"), [&](const json& rows) {
      json flat = json::array();
      for (const auto& h : rows) {
        std::string state = h["state"];
        if (h.value("drained", false)) state += " (drained)";
        flat.push_back({{"name", h["name"]}, {"state", state}, {"accel", h.value("accel", std::string("?"))},
                        {"memory", std::to_string(h["committed_mib"].get<long>()) + "/" + std::to_string(h["capacity_mib"].get<long>()) + " MiB"},
                        {"cpu", h["cpu"]}, {"net", h["network"]}, {"desktops", h["desktops"]}});
      }
      table(io.out, flat, {{"name", "HOST"}, {"state", "STATE"}, {"accel", "ACCEL"}, {"memory", "MEMORY"}, {"cpu", "CPU"}, {"net", "NET"}, {"desktops", "DESKTOPS"}});
    });
  }
  if (drain->parsed()) {
    client->set_timeout(std::chrono::hours(1));  // one live migration after another
    auto answer = client->post_json("/v1/admin/hosts/" + name + "/drain", json::object());
    const bool partial = answer && !(*answer)["failed"].empty();
    int rc = show(answer, [&](const json& r) {
      io.out << "host " << name << " drained: " << r["moved"].size() << " desktop(s) moved";
      if (!r["failed"].empty()) io.out << ", " << r["failed"].size() << " still there";
      io.out << '\n';
      for (const auto& f : r["failed"]) io.out << "  session " << f["session"].get<std::string>() << ": " << f["error"].get<std::string>() << '\n';
    });
    return rc == 0 && partial ? 4 : rc;  // 4: drained, but some desktops could not move
  }
  if (undrain->parsed()) {
    return show(client->post_json("/v1/admin/hosts/" + name + "/undrain", json::object()),
                [&](const json&) { io.out << "host " << name << " takes new desktops again\n"; });
  }
  if (sessions->parsed()) {
    return show(client->get_json("/v1/admin/sessions"), [&](const json& rows) {
      table(io.out, rows, {{"id", "SESSION"}, {"user", "USER"}, {"client_id", "LAB PC"}, {"host", "HOST"}, {"mib", "MIB"}, {"lab_port", "PORT"}});
    });
  }
  if (end->parsed()) {
    return show(client->send_json("DELETE", "/v1/admin/sessions/" + id, nullptr),
                [&](const json&) { io.out << "session " << id << " ended\n"; });
  }
  if (move->parsed()) {
    return show(client->post_json("/v1/admin/sessions/" + id + "/move", {{"host", host}, {"live", live}}),
                [&](const json& r) {
                  io.out << "session " << id << " moved to " << host;
                  if (live) io.out << " while running (paused " << r.value("downtime_ms", -1) << " ms, took " << r.value("total_ms", 0) << " ms)";
                  io.out << '\n';
                });
  }
  if (users->parsed()) {
    return show(client->get_json("/v1/admin/users"),
                [&](const json& rows) { table(io.out, rows, {{"name", "USER"}, {"admin", "ADMIN"}}); });
  }
  if (useradd->parsed()) {
    if (password.empty() && !std::getline(io.in, password)) {
      io.err << "labdeskctl: no password given: use --password or type it on stdin\n";
      return 2;
    }
    return show(client->post_json("/v1/admin/users", {{"name", name}, {"password", password}, {"admin", admin}, {"replace", replace}}),
                [&](const json&) { io.out << "user " << name << " saved\n"; });
  }
  if (userdel->parsed()) {
    if (!keep_data && !delete_data) {
      io.err << "labdeskctl: say what happens to " << name << "'s data: --keep-data (archived) or --delete-data\n";
      return 2;
    }
    return show(client->send_json("DELETE", "/v1/admin/users/" + name + (delete_data ? "?data=delete" : "?data=keep"), nullptr),
                [&](const json& r) {
                  io.out << "user " << name << " deleted; data " << (delete_data ? "deleted" : "archived");
                  for (const auto& h : r.value("data", json::array())) {
                    if (h.value("found", false)) io.out << (h.value("archived_to", "").empty() ? "" : " to '" + h["archived_to"].get<std::string>() + "'") << " on " << h["host"].get<std::string>();
                  }
                  io.out << "\n";
                });
  }
  if (events->parsed()) {
    return show(client->get_json("/v1/admin/events?max=" + std::to_string(max)), [&](const json& rows) {
      table(io.out, rows, {{"at", "TIME"}, {"type", "EVENT"}, {"user", "USER"}, {"detail", "DETAIL"}});
    });
  }
  if (tiers->parsed()) {
    return show(client->get_json("/v1/admin/tiers"), [&](const json& t) {
      io.out << "mode " << t["mode"].get<std::string>() << ", capacity " << t["capacity_mib"] << " MiB, "
             << t["users"] << " users, current tier " << t["current_tier"] << "\n";
      json rows = json::array();
      for (std::size_t m = 0; m < t["mib"].size(); ++m) {
        rows.push_back({{"m", std::to_string(m)}, {"mib", t["mib"][m]}, {"u", t["thresholds"][m]}});
      }
      table(io.out, rows, {{"m", "TIER"}, {"mib", "MIB"}, {"u", "UP TO USERS"}});
    });
  }
  (void)grow;
  return show(client->post_json("/v1/admin/grow", json::object()), [&](const json&) { io.out << "grow plan executed\n"; });
}

}  // namespace labdesk::ctl
