#include "labdesk/agent/api.hpp"

#include <charconv>

#include <boost/asio/steady_timer.hpp>

#include "labdesk/common/api/agent.hpp"

namespace labdesk::agent {

namespace aa = api::agent;
using http::Reply;
using http::Request;
using http::Response;

namespace {

template <typename T>
Response answer(const Result<T>& r, int status = 200) {
  if (!r) return Response::error(r.error());
  return Response::json(nlohmann::json(*r), status);
}

Result<std::uint64_t> query_number(const Request& req, const std::string& key, std::uint64_t fallback,
                                   std::uint64_t max) {
  auto text = req.query_or(key, "");
  if (text.empty()) return fallback;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v > max) {
    return fail("bad_request", "query parameter '" + key + "' = '" + text + "' must be a whole number 0.." + std::to_string(max));
  }
  return v;
}

// A request body of type T, checked strictly; an empty body is T's defaults (`{}`).
template <typename T>
Result<T> body_or_defaults(const Request& req) {
  auto body = req.body.empty() ? Result<nlohmann::json>(nlohmann::json::object()) : req.json();
  if (!body) return std::unexpected(body.error());
  return api::parse_strict<T>(*body);
}

}  // namespace

http::Router make_router(ApiDeps d) {
  http::Router r;
  r.add("GET", "/v1/health", [d](const Request&) { return Response::json(nlohmann::json(d.health())); },
        http::Auth::none);
  r.add("GET", "/v1/images", [d](const Request&) {
    std::vector<aa::ImageInfo> out;
    for (const auto& im : d.desktops.config()->images) out.push_back({im.name, im.base, !im.kernel.empty()});
    return Response::json(nlohmann::json(out));
  });
  r.add("GET", "/v1/desktops", [d](const Request&) { return answer(d.desktops.list()); });
  r.add("POST", "/v1/desktops", [d](const Request& req) {
    auto body = req.json();
    if (!body) return Response::error(body.error());
    auto create = api::parse_strict<aa::CreateDesktop>(*body);
    if (!create) return Response::error(create.error());
    return answer(d.desktops.create(*create), 201);
  });
  r.add("GET", "/v1/desktops/{name}", [d](const Request& req) { return answer(d.desktops.get(req.params.at("name"))); });
  r.add("DELETE", "/v1/desktops/{name}", [d](const Request& req) {
    const auto& name = req.params.at("name");
    auto force = query_number(req, "force", 0, 1);
    if (!force) return Response::error(force.error());
    auto res = d.desktops.destroy(name, *force == 1);
    if (!res) return Response::error(res.error());
    return Response::json({{"destroyed", name}});
  });
  r.add("POST", "/v1/desktops/{name}/data", [d](const Request& req) { return answer(d.desktops.attach_data(req.params.at("name"))); });
  r.add("POST", "/v1/desktops/{name}/memory", [d](const Request& req) {
    auto body = req.json();
    if (!body) return Response::error(body.error());
    auto resize = api::parse_strict<aa::ResizeMemory>(*body);
    if (!resize) return Response::error(resize.error());
    return answer(d.desktops.resize(req.params.at("name"), resize->memory_mib));
  });
  r.add("POST", "/v1/desktops/{name}/console", [d](const Request& req) {
    auto ask = body_or_defaults<aa::ConsolePassword>(req);
    if (!ask) return Response::error(ask.error());
    return answer(d.desktops.console_password(req.params.at("name"), ask->valid_seconds));
  });
  r.add("POST", "/v1/users/{user}/data/retire", [d](const Request& req) {
    auto ask = body_or_defaults<aa::RetireData>(req);
    if (!ask) return Response::error(ask.error());
    return answer(d.desktops.retire_data(req.params.at("user"), ask->mode));
  });
  r.add("POST", "/v1/migrations", [d](const Request& req) {
    auto body = req.json();
    if (!body) return Response::error(body.error());
    auto in = api::parse_strict<aa::IncomingMigration>(*body);
    if (!in) return Response::error(in.error());
    return answer(d.desktops.prepare_incoming(*in), 201);
  });
  // Blocks one of the API's threads for the migration (seconds; migration.timeout_seconds at most).
  r.add("POST", "/v1/desktops/{name}/migrate", [d](const Request& req) {
    auto body = req.json();
    if (!body) return Response::error(body.error());
    auto m = api::parse_strict<aa::MigrateDesktop>(*body);
    if (!m) return Response::error(m.error());
    return answer(d.desktops.migrate_out(req.params.at("name"), m->target));
  });
  r.add("POST", "/v1/migrations/{name}/finish", [d](const Request& req) {
    auto wait = query_number(req, "wait_ms", 0, 10000);
    if (!wait) return Response::error(wait.error());
    return answer(d.desktops.finish_incoming(req.params.at("name"), std::chrono::milliseconds(*wait)));
  });
  r.add("GET", "/v1/desktops/{name}/memory", [d](const Request& req) { return answer(d.desktops.memory(req.params.at("name"))); });
  r.add("GET", "/v1/desktops/{name}/screenshot", [d](const Request& req) {
    auto png = d.desktops.screenshot_png(req.params.at("name"));
    if (!png) return Response::error(png.error());
    return Response::text(std::string(png->begin(), png->end()), "image/png");
  });
  r.add_async("GET", "/v1/load", [d](const Request&, Reply reply) {
    d.load.request([reply, accel = d.desktops.config()->accel](const aa::LoadReport& rep) {
      auto report = rep;
      report.accel = accel;
      reply(Response::json(nlohmann::json(report)));
    });
  });
  r.add_async("GET", "/v1/events", [d](const Request& req, Reply reply) {
    auto after = query_number(req, "after", 0, UINT64_MAX);
    auto wait = query_number(req, "wait", 0, 120);
    if (!after || !wait) return reply(Response::error(!after ? after.error() : wait.error()));
    auto answer_batch = [reply](aa::EventBatch b) { reply(Response::json(nlohmann::json(b))); };
    if (*wait == 0) return answer_batch(d.events.after(*after));
    auto id = d.events.wait(*after, answer_batch);
    if (!id) return;
    auto timer = std::make_shared<boost::asio::steady_timer>(d.io, std::chrono::seconds(*wait));
    timer->async_wait([timer, &events = d.events, waiter = *id](const boost::system::error_code&) {
      events.expire(waiter);
    });
  });
  return r;
}

}  // namespace labdesk::agent
