// Live migration as the broker drives it: the same desktop runs on another host, the session,
// forward, data lease and viewer follow; a failure leaves everything where it was.
#include <doctest/doctest.h>

#include <algorithm>
#include <thread>

#include "broker_fixture.hpp"

using namespace labdesk;
using namespace labdesk::test;

namespace {
// Alice logged in on a two-host lab whose hosts take live migrations; `to` is the other host.
struct AliceMoves {
  Lab lab;
  broker::LoginResult a;
  broker::Session before;
  std::size_t to = 0;
  AliceMoves() {
    lab.migratable();
    a = lab.login("alice");
    before = lab.broker->sessions().at(0);
    to = 1 - before.host;
  }
};
}  // namespace

TEST_CASE("a live move runs the same desktop on the other host: session, forward, lease and viewer follow") {
  AliceMoves m;
  auto& lab = m.lab;
  const auto& a = m.a;
  const auto& before = m.before;
  const std::size_t to = m.to;

  auto moved = lab.broker->move_live(a.session, "host" + std::to_string(to));
  REQUIRE_MESSAGE(moved.has_value(), moved.error().message);
  CHECK(moved->from == "host" + std::to_string(before.host));
  CHECK(moved->desktop == before.desktop);
  CHECK(moved->downtime_ms == 42);

  const auto after = lab.broker->sessions().at(0);
  CHECK(after.host == to);
  CHECK(after.desktop == before.desktop);  // the same guest, not a new one
  CHECK(after.mib == before.mib);
  CHECK(lab.agents[before.host]->desktops.empty());
  CHECK(lab.agents[to]->desktops.contains(before.desktop));
  CHECK(lab.agents[before.host]->destroyed == 0);  // nothing was shut down
  CHECK(lab.agents[to]->created == 1);              // its VNC port there (the fakes count ports so)
  CHECK(lab.forwards.table.at(after.lab_port).vnc_host == "10.1.0." + std::to_string(to));
  CHECK(lab.forwards.table.at(after.lab_port).vnc_port == after.vnc.port);
  CHECK(lab.store.data_lease("alice") == DataLease{"alice", "host" + std::to_string(to), before.desktop});
  CHECK(lab.broker->metrics().migrations == 1);

  auto ev = lab.broker->events(a.session, a.token, 0);
  REQUIRE(ev.has_value());
  REQUIRE(ev->size() == 2);
  CHECK((*ev)[0].type == "moving");  // the viewer holds keys from here: none reaches a paused desktop
  CHECK_FALSE((*ev)[0].endpoint.has_value());
  CHECK((*ev)[1].type == "moved");
  CHECK((*ev)[1].vnc_password.starts_with("mp"));  // the destination's fresh one
  CHECK((*ev)[1].endpoint->port == a.endpoint.port);  // the lab PC keeps its port

  REQUIRE(lab.broker->logout(a.session, a.token).has_value());
  CHECK(lab.agents[to]->desktops.empty());
  CHECK(lab.store.data_leases().empty());
}

TEST_CASE("a live move is refused where the data is per host, and a failed migration changes nothing") {
  SUBCASE("per-host data") {
    Lab lab;
    lab.connect_peers();
    auto a = lab.login("alice");
    const auto s = lab.broker->sessions().at(0);
    auto r = lab.broker->move_live(a.session, "host" + std::to_string(1 - s.host));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "needs_shared_data");
    CHECK(r.error().status == 409);
    CHECK(lab.broker->sessions().at(0).host == s.host);
  }
  SUBCASE("libvirt fails") {
    Lab lab;
    lab.migratable();
    auto a = lab.login("alice");
    const auto s = lab.broker->sessions().at(0);
    const std::size_t to = 1 - s.host;
    lab.agents[s.host]->fail_migrations = true;
    auto r = lab.broker->move_live(a.session, "host" + std::to_string(to));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "migration_failed");
    CHECK(r.error().status == 502);
    const auto now = lab.broker->sessions().at(0);
    CHECK(now.host == s.host);
    CHECK(now.desktop == s.desktop);
    CHECK(lab.agents[s.host]->desktops.contains(s.desktop));
    CHECK(lab.store.data_lease("alice") == DataLease{"alice", "host" + std::to_string(s.host), s.desktop});
    // The destination let go of what it had prepared: it can be prepared again.
    CHECK(lab.agents[to]->prepare_incoming({s.desktop, "desktop"}).has_value());
    auto ev = lab.broker->events(a.session, a.token, 0);
    REQUIRE(ev.has_value());
    REQUIRE(ev->size() == 2);  // the viewer held keys meanwhile, and sends them to the same desktop
    CHECK((*ev)[0].type == "moving");
    CHECK((*ev)[1].type == "stayed");
    CHECK_FALSE((*ev)[1].endpoint.has_value());
  }
  SUBCASE("unknown host, same host, unknown session") {
    Lab lab;
    lab.migratable();
    auto a = lab.login("alice");
    const auto s = lab.broker->sessions().at(0);
    CHECK(lab.broker->move_live(a.session, "nohost").error().status == 404);
    CHECK(lab.broker->move_live(a.session, "host" + std::to_string(s.host)).error().status == 409);
    CHECK(lab.broker->move_live("nosession", "host0").error().status == 404);
  }
}

TEST_CASE("a live move keeps the planner's guarantee: no room on the destination, no move") {
  Lab lab;
  lab.migratable();
  // Fill both hosts, then ask for a move whose desktop does not fit beside the destination's.
  std::vector<LoginResult> in;
  for (const char* u : {"u1", "u2", "u3", "u4", "u5", "u6", "u7"}) in.push_back(lab.login(u));
  const auto all = lab.broker->sessions();
  std::map<std::size_t, std::int64_t> used;
  for (const auto& x : all) used[x.host] += x.max_mib;
  const std::size_t to = used[0] >= used[1] ? 0 : 1;  // the fuller host
  const auto& s = *std::find_if(all.begin(), all.end(), [&](const Session& x) { return x.host != to; });
  REQUIRE_MESSAGE(used[to] + s.max_mib > 4096, "the test needs a full destination: " << used[to]);
  auto r = lab.broker->move_live(s.id, "host" + std::to_string(to));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == "no_capacity");
  CHECK(lab.agents[to]->committed() <= 4096);
  CHECK(lab.broker->sessions().size() == all.size());
}

TEST_CASE("drain: every desktop moves live off the host, which takes no new desktops until undrained, also after a restart") {
  Lab lab(alloc::Mode::handoff, 3);
  lab.migratable();
  for (const char* u : {"u1", "u2"}) lab.login(u);  // 4096 MiB each, one per host: the third host is empty
  std::map<std::size_t, int> per_host;
  for (const auto& s : lab.broker->sessions()) ++per_host[s.host];
  const std::size_t busy = per_host[0] >= per_host[1] ? (per_host[0] >= per_host[2] ? 0 : 2) : (per_host[1] >= per_host[2] ? 1 : 2);
  REQUIRE(per_host[busy] >= 1);
  const std::string name = "host" + std::to_string(busy);

  auto r = lab.broker->drain(name);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  for (const auto& [session, why] : r->failed) FAIL_CHECK(session << ": " << why);
  CHECK(r->moved.size() == static_cast<std::size_t>(per_host[busy]));
  CHECK(lab.agents[busy]->desktops.empty());
  CHECK(lab.agents[busy]->destroyed == 0);  // moved, not restarted
  for (const auto& s : lab.broker->sessions()) CHECK(s.host != busy);
  CHECK(lab.broker->drained(busy));
  CHECK(lab.store.drained_hosts() == std::set<std::string>{name});

  // Nothing new starts there: neither a handoff move nor a live one.
  const auto s = lab.broker->sessions().at(0);
  auto refused = lab.broker->move_live(s.id, name);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == "drained");
  auto handoff = lab.broker->move(s.id, name);
  REQUIRE_FALSE(handoff.has_value());
  CHECK(handoff.error().code == "no_capacity");
  CHECK(lab.agents[busy]->desktops.empty());

  // A restarted boot-server keeps the host drained (the store has it).
  lab.broker = lab.make();
  REQUIRE(lab.broker->reconcile().has_value());
  CHECK(lab.broker->drained(busy));
  REQUIRE(lab.broker->undrain(name).has_value());
  CHECK_FALSE(lab.broker->drained(busy));
  CHECK(lab.store.drained_hosts().empty());
  CHECK(lab.broker->move_live(s.id, name).has_value());
  CHECK(lab.broker->drain("nohost").error().status == 404);
}

TEST_CASE("drain where desktops cannot move live: they stay and are reported, the host still takes nothing new") {
  Lab lab;  // per-host data: no live migration
  auto a = lab.login("alice");
  const auto s = lab.broker->sessions().at(0);
  auto r = lab.broker->drain("host" + std::to_string(s.host));
  REQUIRE(r.has_value());
  CHECK(r->moved.empty());
  REQUIRE(r->failed.size() == 1);
  CHECK(r->failed[0].first == a.session);
  CHECK(r->failed[0].second.find("desktops.data") != std::string::npos);
  CHECK(lab.agents[s.host]->desktops.size() == 1);
  lab.login("bob");
  CHECK(lab.broker->sessions().at(1).host != s.host);
}

TEST_CASE("drain moves a desktop only to a host with the same accelerator (KVM and TCG hosts do not mix)") {
  Lab lab(alloc::Mode::handoff, 3);
  lab.migratable();
  for (const char* u : {"u1", "u2"}) lab.login(u);  // 4096 MiB each on 4096 MiB hosts: one host is empty
  std::set<std::size_t> used;
  for (const auto& s : lab.broker->sessions()) used.insert(s.host);
  REQUIRE(used.size() == 2);
  std::size_t empty = 0;
  while (used.contains(empty)) ++empty;
  const auto s = lab.broker->sessions().at(0);
  const std::string name = "host" + std::to_string(s.host);

  lab.agents[empty]->accel = "kvm";  // the only host with room, but it runs KVM
  lab.clock.advance(std::chrono::seconds(5));  // past the load cache: the broker hears it
  auto r = lab.broker->drain(name);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(r->moved.empty());
  REQUIRE(r->failed.size() == 1);
  CHECK(r->failed[0].second.find("same way (accel)") != std::string::npos);
  CHECK(lab.agents[empty]->desktops.empty());

  lab.agents[empty]->accel = "tcg";
  lab.clock.advance(std::chrono::seconds(5));
  r = lab.broker->drain(name);
  REQUIRE(r.has_value());
  CHECK(r->moved.size() == 1);
  CHECK(lab.broker->sessions().at(0).host == empty);
}

TEST_CASE("a live move switches forward and viewer as soon as the guest runs on the destination, not when the source is done") {
  AliceMoves m;
  auto& lab = m.lab;
  bool told_early = false;
  lab.agents[m.before.host]->on_migrated = [&] {
    // The source's libvirt still stops the old QEMU here (a second and more under TCG).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < until && !told_early) {
      auto ev = lab.broker->events(m.a.session, m.a.token, 0);
      told_early = ev && !ev->empty() && ev->back().type == "moved" &&
                   lab.forwards.table.at(m.before.lab_port).vnc_host == "10.1.0." + std::to_string(m.to);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  auto moved = lab.broker->move_live(m.a.session, "host" + std::to_string(m.to));
  REQUIRE_MESSAGE(moved.has_value(), moved.error().message);
  CHECK(told_early);
  CHECK(moved->downtime_ms == 42);  // libvirt's figure, asked for once the source is done
  auto ev = lab.broker->events(m.a.session, m.a.token, 0);
  REQUIRE(ev.has_value());
  CHECK(std::count_if(ev->begin(), ev->end(), [](const auto& e) { return e.type == "moved"; }) == 1);
  CHECK(lab.broker->metrics().migrations == 1);
}
