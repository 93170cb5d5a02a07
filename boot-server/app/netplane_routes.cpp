#include "app/netplane_routes.hpp"

#include <algorithm>
#include <chrono>

#include "api/announce.hpp"
#include "labdesk/common/text.hpp"
#include "pxe/cpio.hpp"
#include "pxe/render.hpp"

namespace labdesk::boot {

using nlohmann::json;

namespace {

json forward_json(const Forward& f) {
  return {{"port", f.lab_port}, {"client_ip", f.client_ip}, {"target_ip", f.vnc_host}, {"target_port", f.vnc_port}};
}

json client_json(const ClientRecord& c) {
  return {{"mac", c.mac}, {"ip", c.ip}, {"uptime_s", c.uptime_s}, {"cpu", c.cpu}, {"mem_mib", c.mem_mib},
          {"boot_version", c.boot_version}, {"first_seen", c.first_seen}, {"last_seen", c.last_seen}, {"announces", c.announces}};
}

}  // namespace

http::Router lab_routes(const NetplaneRoutes& d) {
  http::Router r;
  using http::Auth;
  using http::Request;
  using http::Response;
  r.add("GET", "/boot.ipxe", [d](const Request& q) {
    const auto c = d.config();
    const std::string v = d.boot_files.current();
    d.log->debug("boot.ipxe (version '{}') to '{}'", v, q.remote_address);
    return Response::text(render_boot_script(d.boot_files.script_template(), boot_script_vars(*c, v)), "text/plain");
  }, Auth::none);
  auto serve = [d](const std::string& version, const std::string& rel, const std::string& remote) {
    auto p = d.boot_files.resolve(version, rel);
    d.log->debug("boot file '{}' of version '{}' to '{}'", rel, version, remote);
    if (!p) return Response::error("not_found", "boot file '" + rel + "' of version '" + version + "' does not exist", 404);
    Response res;
    res.content_type = "application/octet-stream";
    res.file = p->string();
    return res;
  };
  r.add("GET", "/boot/{version}/{file}", [serve](const Request& q) { return serve(q.params.at("version"), q.params.at("file"), q.remote_address); }, Auth::none);
  r.add("GET", "/boot/{version}/{dir}/{file}", [serve](const Request& q) {
    return serve(q.params.at("version"), q.params.at("dir") + "/" + q.params.at("file"), q.remote_address);
  }, Auth::none);
  r.add("GET", "/lab-ca.cpio.gz", [archive = render_lab_ca_archive(d.lab_ca_pem)](const Request&) {
    return Response::text(archive, "application/octet-stream");
  }, Auth::none);
  r.add("POST", "/v1/announce", [d](const Request& q) {
    const auto c = d.config();
    auto parsed = parse_announce(q.body, q.remote_address, AnnounceRules{c->lab.address});
    if (!parsed) {
      d.log->warn("announce from '{}' refused: {}", q.remote_address, parsed.error().message);
      return Response::error(parsed.error());
    }
    // The version the PC booted, as it says: kept only when it looks like one (hex, short).
    const std::string boot = q.query_or("boot", "");
    const bool looks_like_version = boot.size() <= 64 && std::all_of(boot.begin(), boot.end(), [](char ch) {
      return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
    });
    parsed->boot_version = looks_like_version ? boot : "";
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    ClientRecord rec = d.store.record_announce(*parsed, now);
    d.log->info("client '{}' announced from '{}' (uptime {} s, {} cpu, {} MiB)", rec.mac, rec.ip, rec.uptime_s, rec.cpu, rec.mem_mib);
    return Response::json(announce_reply(rec, lab_api_url(*c), d.boot_files.current()));
  }, Auth::none);
  return r;
}

void add_https_required(http::Router& lab, const std::string& https_url) {
  auto refuse = [https_url](const http::Request& q) {
    return http::Response::error("https_required", "the lab API answers over HTTPS only: send '" + printable(q.path) +
                                                      "' to '" + https_url + "' (the lab CA is in lab-ca.cpio.gz)", 403);
  };
  lab.add("POST", "/v1/login", refuse, http::Auth::none);
  lab.add("POST", "/v1/sessions/{id}/{action}", refuse, http::Auth::none);
  lab.add("GET", "/v1/sessions/{id}/events", refuse, http::Auth::none);
}

http::Router admin_routes(const NetplaneRoutes& d) {
  http::Router r;
  using http::Request;
  using http::Response;
  r.add("GET", "/v1/status", [d](const Request&) {
    json j = {{"boot_version", d.boot_files.current()},
              {"boot_versions", d.boot_files.versions()},
              {"dnsmasq", d.dnsmasq_status()},
              {"forwards", d.forwards.list().size()}};
    return Response::json(j);
  });
  r.add("GET", "/v1/clients", [d](const Request&) {
    json a = json::array();
    for (const auto& c : d.store.clients()) a.push_back(client_json(c));
    return Response::json({{"clients", a}});
  });
  r.add("GET", "/v1/clients/{mac}", [d](const Request& q) {
    auto c = d.store.client(q.params.at("mac"));
    if (!c) return Response::error("not_found", "no client with mac '" + q.params.at("mac") + "' has announced", 404);
    return Response::json(client_json(*c));
  });
  r.add("GET", "/v1/forwards", [d](const Request&) {
    json a = json::array();
    for (const auto& f : d.forwards.list()) a.push_back(forward_json(f));
    return Response::json({{"forwards", a}});
  });
  return r;
}

}  // namespace labdesk::boot
