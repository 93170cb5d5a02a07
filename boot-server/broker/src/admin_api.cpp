// Admin REST API (/v1/admin/..., the admin bearer token) and Prometheus metrics.
#include <boost/asio/post.hpp>
#include <map>
#include <sstream>

#include "labdesk/broker/api.hpp"
#include "labdesk/common/text.hpp"
#include "labdesk/http/server.hpp"

namespace labdesk::broker {

using nlohmann::json;

namespace {

json session_json(const Session& s, const HostTable& hosts) {
  return {{"id", s.id}, {"user", s.user}, {"client_id", s.client_id}, {"client_ip", s.client_ip},
          {"host", hosts.spec(s.host).name}, {"desktop", s.desktop}, {"mib", s.mib},
          {"tier", s.tier}, {"lab_port", s.lab_port}, {"vnc", {{"host", s.vnc.host}, {"port", s.vnc.port}}}};
}

const char* state_name(HostState s) {
  return s == HostState::up ? "up" : s == HostState::suspect ? "suspect" : "down";
}

std::string iso(std::chrono::system_clock::time_point t) {
  auto tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

json BrokerApi::hosts_json() {
  auto loads = broker_.hosts().loads();
  auto sessions = broker_.sessions();
  json out = json::array();
  for (std::size_t h = 0; h < broker_.hosts().size(); ++h) {
    const auto& spec = broker_.hosts().spec(h);
    json desktops = json::array();
    std::int64_t committed = 0;
    for (const auto& s : sessions) {
      if (s.host != h) continue;
      committed += s.mib;
      desktops.push_back({{"user", s.user}, {"mib", s.mib}, {"tier", s.tier}, {"desktop", s.desktop}});
    }
    out.push_back({{"name", spec.name}, {"capacity_mib", spec.capacity_mib},
                   {"reserved_mib", spec.reserved_mib}, {"committed_mib", committed},
                   {"state", state_name(loads[h].state)}, {"drained", broker_.drained(h)}, {"cpu", loads[h].cpu},
                   {"network", loads[h].network}, {"query_seconds", loads[h].query_seconds}, {"accel", loads[h].accel},
                   {"desktops", desktops}});
  }
  return out;
}

void BrokerApi::add_admin_routes(http::Router& router) {
  router.add("GET", "/metrics", [this](const http::Request&) {
    return http::Response::text(metrics_text(), "text/plain; version=0.0.4");
  }, http::Auth::none);
  router.add("GET", "/", [](const http::Request&) {
    return http::Response::text(dashboard_html(), "text/html; charset=utf-8");
  }, http::Auth::none);
  router.add("GET", "/v1/admin/hosts", [this](const http::Request&) { return http::Response::json(hosts_json()); });
  router.add("GET", "/v1/admin/sessions", [this](const http::Request&) {
    json out = json::array();
    for (const auto& s : broker_.sessions()) out.push_back(session_json(s, broker_.hosts()));
    return http::Response::json(out);
  });
  router.add("GET", "/v1/admin/data-leases", [this](const http::Request&) {
    json out = json::array();
    for (const auto& l : broker_.data_leases()) {
      out.push_back({{"disk", l.disk}, {"host", l.host}, {"desktop", l.desktop}});
    }
    return http::Response::json(out);
  });
  router.add_async("DELETE", "/v1/admin/sessions/{id}", [this](const http::Request& req, http::Reply reply) {
    boost::asio::post(pool_, http::guarded(reply, log_, [this, id = req.params.at("id"), reply] {
      auto r = broker_.end(id, "ended by an administrator");
      reply(r ? http::Response::json({{"ended", id}}) : http::Response::error(r.error()));
    }));
  });
  router.add_async("POST", "/v1/admin/sessions/{id}/move", [this](const http::Request& req, http::Reply reply) {
    auto body = req.json();
    if (!body) return reply(http::Response::error(body.error()));
    auto ask = api::parse_strict<MoveSession>(*body);
    if (!ask || ask->host.empty()) {
      return reply(ask ? http::Response::error("bad_request", "move needs {\"host\": \"<host name>\"} (and \"live\": true to move it while it runs)", 400)
                       : http::Response::error(ask.error()));
    }
    boost::asio::post(pool_, http::guarded(reply, log_, [this, id = req.params.at("id"), ask = *ask, reply] {
      if (!ask.live) {
        auto r = broker_.move(id, ask.host);
        return reply(r ? http::Response::json({{"moved", id}, {"host", ask.host}, {"live", false}}) : http::Response::error(r.error()));
      }
      auto r = broker_.move_live(id, ask.host);
      if (!r) return reply(http::Response::error(r.error()));
      reply(http::Response::json({{"moved", id}, {"host", ask.host}, {"live", true}, {"from", r->from}, {"desktop", r->desktop},
                                  {"downtime_ms", r->downtime_ms}, {"total_ms", r->total_ms}}));
    }));
  });
  router.add_async("POST", "/v1/admin/hosts/{name}/drain", [this](const http::Request& req, http::Reply reply) {
    boost::asio::post(pool_, http::guarded(reply, log_, [this, name = req.params.at("name"), reply] {
      auto r = broker_.drain(name);
      if (!r) return reply(http::Response::error(r.error()));
      json moved = json::array();
      for (const auto& m : r->moved) {
        moved.push_back({{"session", m.session}, {"desktop", m.desktop}, {"to", m.to}, {"downtime_ms", m.downtime_ms},
                         {"total_ms", m.total_ms}});
      }
      json failed = json::array();
      for (const auto& [session, why] : r->failed) failed.push_back({{"session", session}, {"error", why}});
      reply(http::Response::json({{"drained", name}, {"moved", moved}, {"failed", failed}}));
    }));
  });
  router.add("POST", "/v1/admin/hosts/{name}/undrain", [this](const http::Request& req) {
    auto r = broker_.undrain(req.params.at("name"));
    return r ? http::Response::json({{"undrained", req.params.at("name")}}) : http::Response::error(r.error());
  });
  router.add_async("POST", "/v1/admin/grow", [this](const http::Request&, http::Reply reply) {
    boost::asio::post(pool_, http::guarded(reply, log_, [this, reply] {
      auto r = broker_.grow();
      reply(r ? http::Response::json({{"ok", true}}) : http::Response::error(r.error()));
    }));
  });
  router.add("GET", "/v1/admin/tiers", [this](const http::Request&) {
    const auto& p = broker_.policy();
    std::vector<alloc::Host> hosts;
    for (std::size_t h = 0; h < broker_.hosts().size(); ++h) {
      const auto& s = broker_.hosts().spec(h);
      hosts.push_back({s.name, s.capacity_mib, s.reserved_mib, 0, 0});
    }
    alloc::TierTable table(hosts, p.tiers);
    auto users = broker_.sessions().size();
    return http::Response::json({{"mib", p.tiers}, {"mode", alloc::to_string(p.mode)},
                                 {"thresholds", table.thresholds()}, {"capacity_mib", table.capacity()},
                                 {"users", users}, {"current_tier", table.tier_for(std::max<std::size_t>(users, 1))}});
  });
  router.add("GET", "/v1/admin/events", [this](const http::Request& req) {
    std::size_t max = 100;
    try { max = std::stoul(req.query_or("max", "100")); } catch (const std::exception&) {}
    json out = json::array();
    for (const auto& e : broker_.log(max)) {
      out.push_back({{"at", iso(e.at)}, {"type", e.type}, {"user", e.user}, {"detail", e.detail}});
    }
    return http::Response::json(out);
  });
  router.add("GET", "/v1/admin/users", [this](const http::Request&) {
    json out = json::array();
    for (const auto& u : users_.all()) out.push_back({{"name", u.name}, {"admin", u.admin}});
    return http::Response::json(out);
  });
  router.add_async("POST", "/v1/admin/users", [this](const http::Request& req, http::Reply reply) {
    auto body = req.json();
    if (!body) return reply(http::Response::error(body.error()));
    if (!body->is_object() || !(*body)["name"].is_string() || !(*body)["password"].is_string()) {
      return reply(http::Response::error("bad_request", "a user needs \"name\" and \"password\" strings", 400));
    }
    std::string name = (*body)["name"];
    if (!valid_user_name(name)) {
      return reply(http::Response::error("bad_request", "user name '" + name + "' is not valid: use 1-32 of a-z, 0-9, '.', '_', '-'", 400));
    }
    std::string pw = (*body)["password"];
    if (pw.size() < 4) return reply(http::Response::error("bad_request", "password for '" + name + "' is shorter than 4 characters", 400));
    for (const char* flag : {"admin", "replace"}) {
      if (body->contains(flag) && !body->at(flag).is_boolean()) {
        return reply(http::Response::error("bad_request", "\"" + std::string(flag) + "\" must be true or false", 400));
      }
    }
    const bool admin = body->value("admin", false);
    const bool replace = body->value("replace", false);
    boost::asio::post(pool_, http::guarded(reply, log_, [this, name, pw, admin, replace, reply] {
      // An existing user is only overwritten when the admin says so: a typo must not take over
      // someone's account (and with it their files).
      if (!replace && users_.find(name)) {
        return reply(http::Response::error("user_exists", "user '" + name + "' already exists: send \"replace\": true (labdeskctl useradd --replace) to set a new password", 409));
      }
      users_.put({name, hash_password(pw), admin});
      reply(http::Response::json({{"name", name}, {"admin", admin}}, 201));
    }));
  });
  router.add_async("DELETE", "/v1/admin/users/{name}", [this](const http::Request& req, http::Reply reply) {
    const std::string data = req.query_or("data", "");
    if (data != "keep" && data != "delete") {
      return reply(http::Response::error(
          "data_choice", "say what happens to the data of user '" + printable(req.params.at("name")) +
                             "': ?data=keep (archived on every host; a new user of that name starts empty) or ?data=delete "
                             "(labdeskctl userdel NAME --keep-data | --delete-data)", 400));
    }
    boost::asio::post(pool_, http::guarded(reply, log_, [this, name = req.params.at("name"), data, reply] {
      reply(delete_user(name, data == "delete"));
    }));
  });
}

http::Response BrokerApi::delete_user(const std::string& name, bool delete_data) {
  auto user = users_.find(name);
  if (!user || !users_.remove(name)) return http::Response::error("not_found", "no user '" + printable(name) + "'", 404);
  // A deleted user is logged out everywhere: the session and its token go with the account.
  json ended = json::array();
  for (const auto& s : broker_.sessions()) {
    if (s.user != name) continue;
    if (broker_.end(s.id, "user deleted by an administrator")) ended.push_back(s.id);
  }
  // Their data disk leaves its place on every host (archived or deleted, as the admin said), so
  // a new user of the same name never finds it. A host that cannot do it keeps the account: the
  // admin tries again rather than leave a disk behind for a namesake.
  json done = json::array();
  auto& hosts = broker_.hosts();
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    auto r = hosts.agent(i).retire_data(name, delete_data ? "delete" : "archive");
    if (!r) {
      users_.put(*user);
      log_->error("user '{}' not deleted: host '{}' did not retire their data: {}", name, hosts.spec(i).name, r.error().message);
      return http::Response::error("data_not_retired", "user '" + name + "' is logged out but kept: host '" + hosts.spec(i).name +
                                                           "' did not retire their data (" + r.error().message + "): try again", 503);
    }
    done.push_back({{"host", hosts.spec(i).name}, {"found", r->found}, {"mode", r->mode}, {"archived_to", r->archived_to}});
  }
  log_->info("user '{}' deleted by an administrator, data {}", name, delete_data ? "deleted" : "archived");
  return http::Response::json({{"deleted", name}, {"ended_sessions", ended}, {"data", done}});
}

std::string BrokerApi::metrics_text() {
  auto m = broker_.metrics();
  auto sessions = broker_.sessions();
  std::ostringstream o;
  auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n" << name << ' ' << v << '\n';
  };
  o << "# HELP labdesk_sessions Sessions with a running desktop.\n# TYPE labdesk_sessions gauge\n"
    << "labdesk_sessions " << sessions.size() << '\n';
  std::map<std::int64_t, int> per_tier;
  for (auto t : broker_.policy().tiers) per_tier[t] = 0;
  for (const auto& s : sessions) ++per_tier[s.mib];
  o << "# HELP labdesk_users_per_tier Users by desktop memory.\n# TYPE labdesk_users_per_tier gauge\n";
  for (const auto& [mib, n] : per_tier) o << "labdesk_users_per_tier{tier_mib=\"" << mib << "\"} " << n << '\n';
  counter("labdesk_logins_total", "Successful logins (including roams).", m.logins);
  counter("labdesk_rejections_total", "Logins refused for lack of capacity.", m.rejections);
  counter("labdesk_handoffs_total", "Hard handoffs (desktop replaced by a resized or moved one).", m.handoffs);
  counter("labdesk_roams_total", "Sessions that moved to another lab PC.", m.roams);
  counter("labdesk_grace_expired_total", "Sessions ended after their lab PC vanished.", m.grace_expired);
  counter("labdesk_failovers_total", "Users given a new desktop because their host went down.", m.failovers);
  counter("labdesk_migrations_total", "Desktops moved to another host while they ran (live migration).", m.migrations);
  const auto& hist = m.blackout_seconds;
  o << "# HELP labdesk_handoff_blackout_seconds Blackout seen by viewers following a handoff.\n"
    << "# TYPE labdesk_handoff_blackout_seconds histogram\n";
  for (std::size_t i = 0; i < hist.bounds.size(); ++i) {
    o << "labdesk_handoff_blackout_seconds_bucket{le=\"" << hist.bounds[i] << "\"} " << hist.at_most[i] << '\n';
  }
  o << "labdesk_handoff_blackout_seconds_bucket{le=\"+Inf\"} " << hist.count << '\n'
    << "labdesk_handoff_blackout_seconds_sum " << hist.sum << '\n'
    << "labdesk_handoff_blackout_seconds_count " << hist.count << '\n';
  o << "# HELP labdesk_agent_query_seconds Duration of the last load query per host.\n"
    << "# TYPE labdesk_agent_query_seconds gauge\n";
  auto loads = broker_.hosts().loads();
  for (std::size_t h = 0; h < loads.size(); ++h) {
    o << "labdesk_agent_query_seconds{host=\"" << broker_.hosts().spec(h).name << "\"} " << loads[h].query_seconds << '\n';
  }
  return o.str();
}

}  // namespace labdesk::broker
