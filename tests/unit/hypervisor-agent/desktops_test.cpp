// Desktops and the HTTP API end to end on libvirt's test:///default driver.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <thread>

#include "fixture.hpp"
#include "labdesk/agent/agent.hpp"
#include "labdesk/common/log.hpp"
#include "labdesk/http/client.hpp"

using namespace labdesk;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Running : test::RunningAgent {
  std::unique_ptr<http::Client> client;

  explicit Running(const std::string& extra = "") : RunningAgent(extra) {
    client = std::make_unique<http::Client>(url(), http::ClientOptions{.bearer_token = tree.token});
  }

  json create(const std::string& user, int mem = 512, int max = 1024) {
    auto r = client->post_json("/v1/desktops", {{"user", user}, {"session", "s-" + user}, {"image", "deb"},
                                                {"memory_mib", mem}, {"max_memory_mib", max}, {"tier", 1}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    return *r;
  }
  int status(const std::string& method, const std::string& target, const std::string& body = "") {
    auto r = client->request(method, target, body);
    REQUIRE(r);
    return r->status;
  }
  std::string overlay_dir() const { return tree.cfg.overlay_dir; }
};

}  // namespace

TEST_CASE("desktops: create, list, get, resize, screenshot, destroy, data disk kept, overlay gone") {
  Running a;
  auto d = a.create("alice");
  const std::string name = d["name"];
  CHECK(name.starts_with("ld-alice-"));
  CHECK(d["vnc"]["password"].get<std::string>().size() == 8);
  CHECK(d["state"] == "running");
  CHECK(fs::exists(a.overlay_dir() + "/" + name + ".qcow2"));
  CHECK(fs::exists(a.tree.cfg.data_dir + "/alice.qcow2"));

  auto list = a.client->get_json("/v1/desktops");
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  CHECK((*list)[0]["user"] == "alice");
  CHECK((*list)[0]["session"] == "s-alice");
  CHECK((*list)[0]["tier"] == 1);
  CHECK((*list)[0]["max_memory_mib"] == 1024);
  CHECK((*list)[0]["vnc"]["password"] == "");  // only the create answer carries it

  auto mem = a.client->post_json("/v1/desktops/" + name + "/memory", {{"memory_mib", 256}});
  REQUIRE(mem);
  CHECK((*mem)["requested_mib"] == 256);
  auto got = a.client->get_json("/v1/desktops/" + name);
  REQUIRE(got);
  CHECK((*got)["memory_mib"] == 256);

  auto shot = a.client->request("GET", "/v1/desktops/" + name + "/screenshot");
  REQUIRE(shot);
  CHECK(shot->status == 200);
  CHECK(shot->body.substr(1, 3) == "PNG");

  auto load = a.client->get_json("/v1/load");
  REQUIRE(load);
  CHECK((*load)["committed_mib"] == 256);
  CHECK((*load)["desktops"].size() == 1);

  auto del = a.client->send_json("DELETE", "/v1/desktops/" + name, json::object());
  REQUIRE(del);
  CHECK((*del)["destroyed"] == name);
  CHECK_FALSE(fs::exists(a.overlay_dir() + "/" + name + ".qcow2"));
  CHECK(fs::exists(a.tree.cfg.data_dir + "/alice.qcow2"));
  CHECK(a.status("GET", "/v1/desktops/" + name) == 404);

  auto ev = a.client->get_json("/v1/events?after=0");
  REQUIRE(ev);
  std::vector<std::string> types;
  for (auto& e : (*ev)["events"]) types.push_back(e["type"]);
  CHECK(types == std::vector<std::string>{"started", "resized", "stopped"});
}

TEST_CASE("desktops: stopping waits for a clean shutdown unless forced, and frees the data disk after") {
  Running a;
  auto first = a.create("alice");
  const std::string name = first["name"];
  CHECK(a.status("DELETE", "/v1/desktops/" + name + "?force=2") == 400);  // 0 or 1
  CHECK(a.status("GET", "/v1/desktops/" + name) == 200);                 // nothing done
  // test:///default shuts a domain off at the ACPI press: the clean path ends at once
  CHECK(a.status("DELETE", "/v1/desktops/" + name) == 200);
  CHECK(a.status("GET", "/v1/desktops/" + name) == 404);
  auto second = a.create("alice");  // the data disk is free again
  const std::string again = second["name"];
  CHECK(a.status("DELETE", "/v1/desktops/" + again + "?force=1") == 200);
  CHECK(a.status("GET", "/v1/desktops/" + again) == 404);
  CHECK(fs::exists(a.tree.cfg.data_dir + "/alice.qcow2"));
  auto ev = a.client->get_json("/v1/events?after=0");
  REQUIRE(ev);
  for (auto& e : (*ev)["events"]) CHECK(e["type"] != "crashed");  // a clean stop is not a crash
}

TEST_CASE("desktops: bad input is a 4xx JSON error naming the problem") {
  Running a;
  auto err = [&](const std::string& body) {
    auto r = a.client->request("POST", "/v1/desktops", body);
    REQUIRE(r);
    return std::pair{r->status, json::parse(r->body, nullptr, false)};
  };
  auto [s1, e1] = err("{\"user\":");
  CHECK(s1 == 400);
  CHECK(e1["error"]["code"] == "bad_json");
  auto [s2, e2] = err(R"({"user":"bob","session":"s","image":"nope","memory_mib":512})");
  CHECK(s2 == 400);
  CHECK(e2["error"]["code"] == "unknown_image");
  auto [s3, e3] = err(R"({"user":"bob","session":"s","image":"deb","memory_mib":4096})");
  CHECK(s3 == 400);
  CHECK(e3["error"]["code"] == "above_capacity");
  auto [s4, e4] = err(R"({"user":"../../etc","session":"s","image":"deb","memory_mib":512})");
  CHECK(s4 == 400);
  CHECK(e4["error"]["code"] == "bad_name");
  auto [s5, e5] = err(R"({"user":"bob","session":"s","image":"deb","memry_mib":512})");
  CHECK(s5 == 400);
  CHECK(e5["error"]["message"].get<std::string>().find("did you mean 'memory_mib'") != std::string::npos);
  auto [s6, e6] = err("{\"user\":\"" + std::string(200000, 'a') + "\"}");
  CHECK(s6 == 413);
  auto [s7, e7] = err(R"({"user":"bob","session":"s","image":"deb","memory_mib":"lots"})");
  CHECK(s7 == 400);
  auto escaped = a.status("GET", "/v1/desktops/..%2F..%2Fetc");
  CHECK((escaped == 400 || escaped == 404));
  CHECK(a.status("GET", "/v1/desktops/ld-..-000000") == 400);
  CHECK(a.status("GET", "/v1/desktops/ld-x-000000/screenshot") == 404);
  CHECK(a.status("DELETE", "/v1/desktops/ld-nobody-000000") == 404);
  CHECK(a.status("GET", "/v1/events?after=x") == 400);

  a.create("carol", 1024, 1024);
  auto [s8, e8] = err(R"({"user":"carol","session":"s2","image":"deb","memory_mib":256})");
  CHECK(s8 == 409);
  CHECK(e8["error"]["code"] == "user_busy");
  a.create("dave", 1024, 1024);
  auto [s9, e9] = err(R"({"user":"erin","session":"s","image":"deb","memory_mib":256})");
  CHECK(s9 == 409);
  CHECK(e9["error"]["code"] == "no_capacity");
  auto list = a.client->get_json("/v1/desktops");
  REQUIRE(list);
  CHECK(list->size() == 2);
  auto name = (*list)[0]["name"].get<std::string>();
  auto big = a.client->request("POST", "/v1/desktops/" + name + "/memory", R"({"memory_mib":4096})");
  REQUIRE(big);
  CHECK(big->status == 400);

  http::Client anon("http://127.0.0.1:" + std::to_string(a.agent->port()));
  auto denied = anon.request("GET", "/v1/desktops");
  REQUIRE(denied);
  CHECK(denied->status == 401);
  auto health = anon.get_json("/v1/health");
  REQUIRE(health);
  CHECK((*health)["libvirt"] == "connected");
  CHECK((*health)["capacity_mib"] == 2048);
}

TEST_CASE("desktops: a crash restarts the desktop with the same data disk, a new overlay and password") {
  Running a;
  auto d = a.create("frank");
  const std::string name = d["name"];
  auto& desktops = a.agent->desktops();
  desktops.settle();
  desktops.on_lifecycle({name, "crashed", "injected by the test"});
  desktops.settle();
  auto got = a.client->get_json("/v1/desktops/" + name);
  REQUIRE(got);
  CHECK((*got)["restarts"] == 1);
  CHECK((*got)["state"] == "running");
  CHECK(fs::exists(a.overlay_dir() + "/" + name + ".qcow2"));
  auto ev = a.client->get_json("/v1/events?after=1&wait=5");
  REQUIRE(ev);
  REQUIRE((*ev)["events"].size() >= 2);
  CHECK((*ev)["events"][0]["type"] == "crashed");
  CHECK((*ev)["events"][1]["type"] == "restarted");
  auto pw = (*ev)["events"][1]["vnc"]["password"].get<std::string>();
  CHECK(pw.size() == 8);
  CHECK(pw != d["vnc"]["password"].get<std::string>());

  // Past max_restarts (2) it stays down, and its overlay is gone; the data disk is not.
  desktops.on_lifecycle({name, "crashed", "again"});
  desktops.settle();
  desktops.on_lifecycle({name, "crashed", "and again"});
  desktops.settle();
  CHECK(a.status("GET", "/v1/desktops/" + name) == 404);
  CHECK_FALSE(fs::exists(a.overlay_dir() + "/" + name + ".qcow2"));
  CHECK(fs::exists(a.tree.cfg.data_dir + "/frank.qcow2"));
}

TEST_CASE("desktops: orphaned overlays are deleted at (re)connection, files of running desktops kept") {
  Running a;
  auto d = a.create("gina");
  const std::string name = d["name"];
  std::ofstream(a.overlay_dir() + "/ld-ghost-abcdef.qcow2") << "x";
  std::ofstream(a.overlay_dir() + "/not-ours.txt") << "x";
  a.agent->desktops().resync();
  a.agent->desktops().settle();
  CHECK_FALSE(fs::exists(a.overlay_dir() + "/ld-ghost-abcdef.qcow2"));
  // A spare overlay waits for the next start (made off the request path), and sweeps keep it.
  int spares = 0;
  for (const auto& e : fs::directory_iterator(a.overlay_dir())) spares += e.path().filename().string().starts_with(".spare-");
  CHECK(spares == 1);
  auto second = a.create("ivan");
  CHECK(fs::exists(a.overlay_dir() + "/" + second["name"].get<std::string>() + ".qcow2"));
  CHECK(fs::exists(a.overlay_dir() + "/not-ours.txt"));
  CHECK(fs::exists(a.overlay_dir() + "/" + name + ".qcow2"));
}

TEST_CASE("events: a long-poll waits for the next event") {
  Running a;
  auto first = a.client->get_json("/v1/events?after=0&wait=0");
  REQUIRE(first);
  CHECK((*first)["events"].empty());
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    http::Client c("http://127.0.0.1:" + std::to_string(a.agent->port()), {.bearer_token = a.tree.token});
    auto r = c.post_json("/v1/desktops", {{"user", "hank"}, {"session", "s"}, {"image", "plain"}, {"memory_mib", 128}});
    CHECK(r);
  });
  auto t0 = std::chrono::steady_clock::now();
  auto ev = a.client->get_json("/v1/events?after=0&wait=4");
  later.join();
  REQUIRE(ev);
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(150));
  REQUIRE((*ev)["events"].size() == 1);
  CHECK((*ev)["events"][0]["type"] == "started");
  CHECK((*ev)["events"][0]["user"] == "hank");
  auto none = a.client->get_json("/v1/events?after=1&wait=1");
  REQUIRE(none);
  CHECK((*none)["events"].empty());
  CHECK((*none)["next"] == 1);
}

TEST_CASE("config reload swaps the token and the catalog") {
  Running a;
  auto next = a.tree.cfg;
  next.images.pop_back();
  a.agent->reload(next, "another-token-0123456789");
  auto old = a.client->request("GET", "/v1/images");
  REQUIRE(old);
  CHECK(old->status == 401);
  http::Client c("http://127.0.0.1:" + std::to_string(a.agent->port()), {.bearer_token = "another-token-0123456789"});
  auto images = c.get_json("/v1/images");
  REQUIRE(images);
  CHECK(images->size() == 1);
}

TEST_CASE("console password: bad requests are 4xx with the problem named") {
  Running r;
  auto d = r.create("alice");
  const std::string name = d["name"];
  CHECK(r.status("POST", "/v1/desktops/" + name + "/console", R"({"valid_seconds": 0})") == 400);
  CHECK(r.status("POST", "/v1/desktops/" + name + "/console", R"({"valid_secs": 5})") == 400);
  std::string other = name;
  other.replace(other.find("alice"), 5, "bob");
  CHECK(r.status("POST", "/v1/desktops/" + other + "/console", "{}") == 404);
  CHECK(r.status("POST", "/v1/desktops/" + name + "/console", "[1]") == 400);
}

TEST_CASE("data retire: refused while the user's desktop runs, then archived or deleted as asked") {
  Running a;
  auto d = a.create("alice");
  const std::string name = d["name"];
  const std::string disk = a.tree.cfg.data_dir + "/alice.qcow2";
  REQUIRE(fs::exists(disk));
  CHECK(a.status("POST", "/v1/users/alice/data/retire", R"({"mode":"archive"})") == 409);
  CHECK(fs::exists(disk));
  CHECK(a.status("POST", "/v1/users/alice/data/retire", R"({"mode":"shred"})") == 400);
  CHECK(a.status("POST", "/v1/users/.hidden/data/retire", R"({"mode":"delete"})") == 400);
  REQUIRE(a.client->send_json("DELETE", "/v1/desktops/" + name + "?force=1", json::object()));

  auto archived = a.client->post_json("/v1/users/alice/data/retire", {{"mode", "archive"}});
  REQUIRE_MESSAGE(archived, (archived ? "" : archived.error().message));
  CHECK((*archived)["found"] == true);
  const std::string to = (*archived)["archived_to"];
  CHECK(to.starts_with(a.tree.cfg.data_dir + "/retired/alice-"));
  CHECK(fs::exists(to));
  CHECK_FALSE(fs::exists(disk));  // a new alice starts with an empty disk

  a.create("bob");
  REQUIRE(a.client->send_json("DELETE", "/v1/desktops/" + std::string(a.client->get_json("/v1/desktops").value()[0]["name"]) + "?force=1",
                              json::object()));
  auto deleted = a.client->post_json("/v1/users/bob/data/retire", {{"mode", "delete"}});
  REQUIRE(deleted);
  CHECK((*deleted)["found"] == true);
  CHECK_FALSE(fs::exists(a.tree.cfg.data_dir + "/bob.qcow2"));
  CHECK_FALSE(fs::exists(a.tree.cfg.data_dir + "/retired/bob.qcow2"));
  auto nothing = a.client->post_json("/v1/users/carol/data/retire", {{"mode", "delete"}});
  REQUIRE(nothing);
  CHECK((*nothing)["found"] == false);
}
