#include <doctest/doctest.h>

#include "broker_fixture.hpp"

using namespace labdesk;
using namespace labdesk::broker;
using labdesk::test::Lab;

TEST_CASE("a login places a desktop, forwards a lab port to it and returns the credential") {
  Lab lab;
  auto r = lab.login("alice");
  CHECK(r.endpoint.host == "10.77.0.1");
  CHECK(r.endpoint.port == 16000);
  CHECK(r.tier_mib == 4096);
  CHECK_FALSE(r.vnc_password.empty());
  REQUIRE(lab.forwards.table.contains(16000));
  const auto& f = lab.forwards.table[16000];
  CHECK(f.client_ip == "10.77.0.101");
  auto sessions = lab.broker->sessions();
  REQUIRE(sessions.size() == 1);
  CHECK(f.vnc_port == sessions[0].vnc.port);
  CHECK(lab.committed() == 4096);
}

TEST_CASE("the third login shrinks the first user by hard handoff and tells their viewer") {
  Lab lab;
  auto alice = lab.login("alice");
  lab.login("bob");
  auto before = lab.broker->sessions()[0];
  auto carol = lab.login("carol");
  CHECK(carol.tier_mib == 2048);
  auto after = lab.broker->sessions()[0];
  CHECK(after.user == "alice");
  CHECK(after.mib == 2048);
  CHECK(after.desktop != before.desktop);
  CHECK(after.lab_port == before.lab_port);  // the viewer reconnects to the same port
  CHECK(lab.forwards.table[after.lab_port].vnc_port == after.vnc.port);
  auto events = lab.broker->events(alice.session, alice.token, 0);
  REQUIRE(events.has_value());
  REQUIRE(events->size() == 1);
  CHECK((*events)[0].type == "moved");
  CHECK((*events)[0].vnc_password == after.vnc_password);
  CHECK(lab.committed() == 6144);
  int desktops = 0;
  for (auto* a : lab.agents) desktops += static_cast<int>(a->desktops.size());
  CHECK(desktops == 3);  // the old 4 GiB VM is gone
  CHECK(lab.broker->metrics().handoffs == 1);
}

TEST_CASE("balloon mode resizes live instead") {
  Lab lab(alloc::Mode::balloon);
  lab.login("alice");
  lab.login("bob");
  auto before = lab.broker->sessions()[0];
  lab.login("carol");
  auto after = lab.broker->sessions()[0];
  CHECK(after.desktop == before.desktop);
  CHECK(after.mib == 2048);
  CHECK(lab.agents[before.host]->desktops.at(before.desktop).memory_mib == 2048);
}

TEST_CASE("roaming: the same user at another PC gets the running desktop, the first PC is told") {
  Lab lab;
  auto first = lab.login("alice", "pc-1");
  auto second = lab.login("alice", "pc-2");
  CHECK(second.roamed);
  CHECK(second.session == first.session);
  // The first PC's viewer knew the console password: the new PC gets a fresh one.
  CHECK(second.vnc_password != first.vnc_password);
  CHECK(lab.agents[lab.broker->sessions()[0].host]->console_passwords == 1);
  CHECK(lab.forwards.table[first.endpoint.port].client_ip == "10.77.0.102");
  CHECK(lab.broker->credential(first.session, first.token, "10.77.0.101").error().status == 401);
  // The first PC's viewer, still polling with its old token, is told; the new PC's viewer does
  // not get events that were not for it.
  auto ev = lab.broker->events(first.session, first.token, 0);
  REQUIRE(ev.has_value());
  REQUIRE(ev->size() == 1);
  CHECK((*ev)[0].type == "ended");
  CHECK((*ev)[0].reason.find("pc-2") != std::string::npos);
  auto told = lab.broker->events(first.session, first.token, (*ev)[0].seq);
  REQUIRE(told.has_value());
  CHECK(told->empty());
  auto fresh = lab.broker->events(second.session, second.token, 0);
  REQUIRE(fresh.has_value());
  CHECK(fresh->empty());
  bool woke = false;  // and its long-poll waits for new events instead of spinning on old ones
  lab.broker->wait_events(second.session, 0, [&] { woke = true; });
  CHECK_FALSE(woke);
  CHECK(lab.committed() == 4096);
}

TEST_CASE("console credentials: fresh on every request, good for 60 s, only for the session's own lab PC") {
  Lab lab;
  auto a = lab.login("alice");
  const auto s = lab.broker->sessions()[0];
  auto* agent = lab.agents[s.host];
  auto c1 = lab.broker->credential(a.session, a.token, s.client_ip);
  REQUIRE(c1.has_value());
  auto c2 = lab.broker->credential(a.session, a.token, s.client_ip);
  REQUIRE(c2.has_value());
  CHECK(c1->vnc_password != a.vnc_password);
  CHECK(c2->vnc_password != c1->vnc_password);
  CHECK(c2->vnc_password == agent->desktops.at(s.desktop).vnc.password);
  CHECK(agent->last_valid_for == std::chrono::seconds(60));
  // Another lab PC with the session's token (copied, sniffed) gets nothing.
  auto other = lab.broker->credential(a.session, a.token, "10.77.0.250");
  REQUIRE_FALSE(other.has_value());
  CHECK(other.error().status == 403);
  CHECK(other.error().code == "not_your_pc");
  CHECK(agent->console_passwords == 2);
  // An agent that cannot rotate: the current password, not a failed reconnect.
  agent->down = true;
  auto c3 = lab.broker->credential(a.session, a.token, s.client_ip);
  REQUIRE(c3.has_value());
  CHECK(c3->vnc_password == c2->vnc_password);
}

TEST_CASE("disconnect grace: the desktop survives a short absence and goes after the grace period") {
  Lab lab;
  auto a = lab.login("alice");
  lab.clock.advance(std::chrono::seconds(50));
  lab.broker->sweep();
  REQUIRE(lab.broker->credential(a.session, a.token, lab.broker->sessions()[0].client_ip).has_value());  // seen again
  lab.clock.advance(std::chrono::seconds(50));
  lab.broker->sweep();
  CHECK(lab.broker->sessions().size() == 1);
  const std::string ip = lab.broker->sessions()[0].client_ip;
  lab.clock.advance(std::chrono::seconds(61));
  lab.broker->sweep();
  CHECK(lab.broker->sessions().empty());
  // The session's token died with it: no credential, no logout for it any more.
  CHECK(lab.broker->credential(a.session, a.token, ip).error().status == 404);
  CHECK_FALSE(lab.broker->logout(a.session, a.token, ip).has_value());
  CHECK(lab.committed() == 0);
  CHECK(lab.forwards.table.empty());
  CHECK(lab.broker->metrics().grace_expired == 1);
  auto b = lab.login("bob");
  CHECK(b.endpoint.port == 16000);  // the port came back to the pool
}

TEST_CASE("at capacity the answer is no_capacity and nothing changes") {
  Lab lab;
  for (int i = 1; i <= 16; ++i) lab.login("u" + std::to_string(i));
  auto r = lab.broker->login({"u17", "pc", "10.77.0.250"});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == "no_capacity");
  CHECK(r.error().status == 503);
  CHECK(lab.broker->sessions().size() == 16);
  CHECK(lab.committed() == 8192);
}

TEST_CASE("a host whose agent does not answer is skipped") {
  Lab lab;
  lab.agents[0]->down = true;
  auto r = lab.login("alice");
  CHECK(lab.broker->sessions()[0].host == 1u);
  CHECK(r.tier_mib == 2048);  // a down host's memory does not count: C = 4096, U_0 = 0
  lab.agents[1]->down = true;
  lab.clock.advance(std::chrono::seconds(30));
  auto none = lab.broker->login({"bob", "pc", "10.77.0.9"});
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().code == "no_capacity");
}

TEST_CASE("logout destroys the desktop and removes the forward, the data disk is the agent's") {
  Lab lab;
  auto a = lab.login("alice");
  REQUIRE(lab.broker->logout(a.session, a.token).has_value());
  CHECK(lab.committed() == 0);
  CHECK(lab.forwards.table.empty());
  CHECK(lab.broker->logout(a.session, a.token).error().status == 404);
}

TEST_CASE("restart: reconciliation keeps the right desktops and forwards, nothing else") {
  Lab lab;
  lab.login("alice");
  lab.login("bob");
  auto sessions = lab.broker->sessions();
  // While the broker is down: an orphan VM appears and bob's VM vanishes.
  lab.agents[0]->create({"mallory", "x", "desktop", 512, 512, 3});
  lab.agents[sessions[1].host]->desktops.erase(sessions[1].desktop);
  lab.forwards.table.clear();
  lab.broker = lab.make();
  REQUIRE(lab.broker->reconcile().has_value());
  auto kept = lab.broker->sessions();
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].user == "alice");
  CHECK(lab.forwards.table.size() == 1);
  CHECK(lab.forwards.table.begin()->second.vnc_port == kept[0].vnc.port);
  int desktops = 0;
  for (auto* a : lab.agents) desktops += static_cast<int>(a->desktops.size());
  CHECK(desktops == 1);
  // The lab keeps working after the restart.
  auto c = lab.login("carol");
  CHECK(c.tier_mib == 2048);
}

TEST_CASE("a desktop that never answers on VNC is destroyed and the login fails cleanly") {
  Lab lab;
  lab.probe.ready = false;
  auto r = lab.broker->login({"alice", "pc", "10.77.0.5"});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == "desktop_not_ready");
  CHECK(lab.committed() == 0);
  CHECK(lab.broker->sessions().empty());
}

TEST_CASE("vnc_ready_timeout 0: the login does not wait for VNC (agents on test:///default)") {
  Lab lab;
  lab.probe.ready = false;  // would fail the login if it were asked
  lab.opt.vnc_ready_timeout = std::chrono::milliseconds(0);
  lab.broker = lab.make();
  auto r = lab.broker->login({"alice", "pc", "10.77.0.5"});
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(lab.broker->sessions().size() == 1);
}

TEST_CASE("after a restart, session events are numbered above the ones viewers already saw") {
  Lab lab;
  auto a = lab.login("alice");
  lab.login("bob");
  lab.login("carol");  // alice shrinks: her viewer sees "moved"
  auto before = lab.broker->events(a.session, a.token, 0);
  REQUIRE(before->size() == 1);
  const auto seen = (*before)[0].seq;
  lab.broker = lab.make();  // the boot-server restarts
  REQUIRE(lab.broker->reconcile().has_value());
  auto again = lab.login("alice", "pc-elsewhere");  // roam: alice's first viewer is told
  auto after = lab.broker->events(a.session, a.token, seen);
  REQUIRE(after->size() == 1);  // a viewer polling with after=seen gets it
  CHECK((*after)[0].type == "ended");
  CHECK((*after)[0].seq > seen);
}

TEST_CASE("a handoff whose replacement needs the disk the old desktop holds hands the disk over after the switch") {
  using alloc::Op;
  alloc::Plan warm{{{Op::start, "alice", 0, 256, 0, {}}, {Op::switch_to, "alice", 0, 256, 0, {}},
                    {Op::destroy, "alice", 0, 512, 0, {}}, {Op::start, "bob", 1, 256, 0, {}},
                    {Op::switch_to, "bob", 1, 256, 0, {}}, {Op::destroy, "bob", 0, 512, 0, {}},
                    {Op::destroy, "dave", 1, 512, 0, {}}, {Op::start, "dave", 1, 256, 0, {}},
                    {Op::switch_to, "dave", 1, 256, 0, {}},
                    {Op::start, "carol", 1, 256, 0, {}}, {Op::switch_to, "carol", 1, 256, 0, {}}}};
  const std::map<std::string, std::size_t> live{{"alice", 0}, {"bob", 0}, {"dave", 1}};
  // One data area: a replacement on any host; dave's cold handoff and carol's arrival need none.
  CHECK(data_handovers(warm, live, true) == std::set<std::string>{"alice", "bob"});
  // Data on each host: only a replacement on the user's own host shares the disk.
  CHECK(data_handovers(warm, live, false) == std::set<std::string>{"alice"});

  // An admin move across hosts: the new desktop starts first either way; with one data area it
  // starts without the disk, which follows once the old desktop has stopped.
  for (const bool shared : {true, false}) {
    CAPTURE(shared);
    Lab lab;
    if (shared) lab.share_data_area();
    auto a = lab.login("alice");
    REQUIRE(lab.broker->sessions().size() == 1);
    const std::size_t from = lab.broker->sessions()[0].host;
    const std::size_t to = 1 - from;
    std::vector<std::string> order;
    lab.agents[from]->on_destroy = [&](const std::string&) { order.emplace_back("stop old"); };
    lab.agents[to]->on_create = [&](const std::string&) { order.emplace_back("start new"); };
    REQUIRE(lab.broker->move(a.session, "host" + std::to_string(to)).has_value());
    CHECK(lab.agents[from]->desktops.empty());
    REQUIRE(lab.agents[to]->desktops.size() == 1);
    CHECK(order == std::vector<std::string>{"start new", "stop old"});
    CHECK(lab.agents[to]->desktops.begin()->second.data_attached);
    auto batch = lab.agents[to]->events(0, std::chrono::seconds(0));
    int attached = 0;
    for (const auto& e : batch->events) attached += e.type == "data_attached" ? 1 : 0;
    CHECK(attached == (shared ? 1 : 0));  // per host: the new host's own disk went in at start
    auto log = lab.broker->log();
    CHECK(std::count_if(log.begin(), log.end(), [](const LogEntry& e) { return e.type == "data"; }) == (shared ? 1 : 0));
  }
}

TEST_CASE("a hand-over the old desktop does not let go of is retried by the sweep, and the user keeps working meanwhile") {
  Lab lab;
  lab.share_data_area();
  auto a = lab.login("alice");
  const auto s = lab.broker->sessions()[0];
  const std::size_t to = 1 - s.host;
  lab.agents[s.host]->down = true;  // the old host cannot stop her old desktop: it keeps the disk
  REQUIRE(lab.broker->move(a.session, "host" + std::to_string(to)).has_value());
  auto now = lab.broker->sessions();
  REQUIRE(now.size() == 1);
  CHECK(now[0].host == to);  // switched: her screen is the new desktop's
  const auto& fresh = lab.agents[to]->desktops.at(now[0].desktop);
  CHECK_FALSE(fresh.data_attached);
  lab.broker->sweep();
  CHECK_FALSE(lab.agents[to]->desktops.at(now[0].desktop).data_attached);  // still held
  lab.agents[s.host]->down = false;
  REQUIRE(lab.agents[s.host]->destroy(s.desktop).has_value());  // e.g. the host's reconciliation
  lab.broker->sweep();
  CHECK(lab.agents[to]->desktops.at(now[0].desktop).data_attached);
  lab.broker->sweep();  // nothing left to retry
  auto log = lab.broker->log();
  CHECK(std::count_if(log.begin(), log.end(), [](const LogEntry& e) { return e.type == "data"; }) == 1);
}

TEST_CASE("a handoff on the user's own host starts the replacement beside the old desktop and hands the disk over") {
  // One host: arrivals shrink earlier users on their own host, and that works.
  Lab lab(alloc::Mode::handoff, 1);
  std::vector<LoginResult> in;
  for (const char* u : {"alice", "bob", "carol", "dave"}) in.push_back(lab.login(u));
  int moved = 0;
  for (const auto& r : in) {
    auto ev = lab.broker->events(r.session, r.token, 0);
    REQUIRE(ev);
    for (const auto& e : *ev) moved += e.type == "moved" ? 1 : 0;
  }
  CHECK(moved >= 1);
  CHECK(lab.agents[0]->desktops.size() == 4);
  CHECK(lab.broker->metrics().handoffs == static_cast<std::uint64_t>(moved));
  int attached = 0;
  const auto batch = lab.agents[0]->events(0, std::chrono::seconds(0));
  for (const auto& e : batch->events) attached += e.type == "data_attached";
  int warm = 0;  // handoffs where the replacement started while the old desktop ran
  for (const auto& [n, d] : lab.agents[0]->desktops) CHECK(d.data_attached);
  for (const auto& l : lab.broker->log()) warm += l.type == "data" ? 1 : 0;
  CHECK(attached == warm);
  CHECK(warm >= 1);
}

TEST_CASE("a handoff whose replacement does not start leaves the user on the desktop they have") {
  Lab lab(alloc::Mode::handoff, 1);
  std::vector<LoginResult> in;
  for (const char* u : {"alice", "bob"}) in.push_back(lab.login(u));  // alice 2048, bob 1024
  lab.probe.ready = false;  // every new desktop fails to answer from now on
  auto r = lab.broker->login({"carol", "pc-carol", "10.77.0.50"});  // alice 2048 -> 1024 beside hers first
  REQUIRE_FALSE(r.has_value());
  auto ev = lab.broker->events(in[0].session, in[0].token, 0);
  REQUIRE(ev);
  CHECK(ev->empty());  // nothing happened to alice's screen
  REQUIRE(lab.broker->sessions().size() == 2);
  for (const auto& s : lab.broker->sessions()) {
    CAPTURE(s.user);
    CHECK(lab.agents[0]->desktops.contains(s.desktop));
  }
  CHECK(lab.agents[0]->desktops.size() == 2);
  CHECK(lab.forwards.table.size() == 2);
}

TEST_CASE("a user gets a desktop only once its guest has drawn it, not when QEMU's VNC server first answers") {
  Lab lab;
  lab.opt.vnc_ready_timeout = std::chrono::milliseconds(5000);
  lab.broker = lab.make();
  for (auto* a : lab.agents) a->boot_lists = 3;
  auto a = lab.login("alice");
  const auto s = lab.broker->sessions()[0];
  CHECK(lab.agents[s.host]->list()->at(0).ready);

  lab.opt.vnc_ready_timeout = std::chrono::milliseconds(600);
  lab.broker = lab.make();
  REQUIRE(lab.broker->reconcile().has_value());
  for (auto* x : lab.agents) x->boot_lists = 1000;  // never drawn
  auto r = lab.broker->login({"bob", "pc-bob", "10.77.0.60"});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == "desktop_not_ready");
  CHECK(r.error().status == 504);
  CHECK(r.error().message.find("did not finish booting") != std::string::npos);
  CHECK(lab.broker->sessions().size() == 1);
  CHECK(lab.agents[0]->desktops.size() + lab.agents[1]->desktops.size() == 1);  // bob's was destroyed
}

TEST_CASE("long-poll waiters are woken by a move") {
  Lab lab;
  auto a = lab.login("alice");
  lab.login("bob");
  bool woke = false;
  lab.broker->wait_events(a.session, 0, [&] { woke = true; });
  CHECK_FALSE(woke);
  lab.login("carol");
  CHECK(woke);
}

TEST_CASE("a desktop restarted by its agent after a crash: new forward, viewer told, same session") {
  Lab lab;
  auto a = lab.login("alice");
  auto s = lab.broker->sessions()[0];
  auto* agent = lab.agents[s.host];
  agent->restart(s.desktop);
  auto batch = agent->events(0, std::chrono::seconds(0));
  REQUIRE(batch->events.size() == 2);  // started, restarted
  for (const auto& e : batch->events) lab.broker->desktop_event(s.host, e);
  auto after = lab.broker->sessions()[0];
  CHECK(after.id == s.id);
  CHECK(after.vnc.port == s.vnc.port + 100);
  CHECK(lab.forwards.table[after.lab_port].vnc_port == after.vnc.port);
  auto ev = lab.broker->events(a.session, a.token, 0);
  REQUIRE(ev->size() == 1);
  CHECK((*ev)[0].type == "moved");
  // The restarted VM's password came with the agent's event (its list never carries one): the
  // viewer's next connection opens with it, and so does the broker's fallback.
  CHECK((*ev)[0].vnc_password == agent->desktops.at(s.desktop).vnc.password);
  CHECK(after.vnc_password == agent->desktops.at(s.desktop).vnc.password);
  // A desktop that is stopped for good ends its session.
  lab.agents[s.host]->desktops.erase(s.desktop);
  lab.broker->desktop_event(s.host, {2, "stopped", s.desktop, "alice", s.id, ""});
  CHECK(lab.broker->sessions().empty());
  CHECK(lab.forwards.table.empty());
}

TEST_CASE("events and logout answer only the lab PC the session is on (moves carry console passwords)") {
  Lab lab;
  auto a = lab.login("alice");
  const std::string ip = lab.broker->sessions()[0].client_ip;
  auto stranger = lab.broker->events(a.session, a.token, 0, "10.77.0.66");
  REQUIRE_FALSE(stranger.has_value());
  CHECK(stranger.error().code == "not_your_pc");
  CHECK(lab.broker->events(a.session, a.token, 0, ip).has_value());
  auto out = lab.broker->logout(a.session, a.token, "10.77.0.66");
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().status == 403);
  CHECK(lab.broker->sessions().size() == 1);
  CHECK(lab.broker->logout(a.session, a.token, ip).has_value());
  CHECK(lab.broker->sessions().empty());
}

namespace {

// Two missed answers mark a host down (HostTable); each watch asks again once the cache is old.
void watch(Lab& lab, int times) {
  for (int i = 0; i < times; ++i) {
    lab.clock.advance(std::chrono::seconds(3));
    lab.broker->watch_hosts();
  }
}

}  // namespace

TEST_CASE("a dead host: its users get desktops on the host that answers, their viewers are told, and it is reconciled when it returns") {
  for (const bool shared : {false, true}) {
    CAPTURE(shared);
    Lab lab;
    if (shared) lab.share_data_area();
    auto a = lab.login("alice");
    auto b = lab.login("bob");
    std::map<std::size_t, int> per_host;
    for (const auto& s : lab.broker->sessions()) ++per_host[s.host];
    const std::size_t dead = lab.broker->sessions()[0].host;
    const std::size_t alive = 1 - dead;
    const auto before = lab.broker->sessions();
    lab.agents[dead]->down = true;  // libvirtd, agent and VMs gone: nothing answers

    watch(lab, 1);
    CHECK(lab.table->state(dead) == HostState::suspect);  // one miss is not a death
    for (const auto& s : lab.broker->sessions()) CHECK(s.desktop == std::find_if(before.begin(), before.end(), [&](const Session& x) { return x.id == s.id; })->desktop);
    watch(lab, 1);
    CHECK(lab.table->state(dead) == HostState::down);
    for (const auto& s : lab.broker->sessions()) {
      CAPTURE(s.user);
      CHECK(s.host == alive);
      CHECK(lab.agents[alive]->desktops.contains(s.desktop));
      CHECK(lab.forwards.table.at(s.lab_port).vnc_port == lab.agents[alive]->desktops.at(s.desktop).vnc.port);
    }
    CHECK(lab.broker->sessions().size() == 2);
    CHECK(lab.broker->metrics().failovers == static_cast<std::uint64_t>(per_host[dead]));
    for (const auto* r : {&a, &b}) {
      const auto s = std::find_if(before.begin(), before.end(), [&](const Session& x) { return x.id == r->session; });
      auto ev = lab.broker->events(r->session, r->token, 0);
      REQUIRE(ev);
      if (s->host != dead) continue;
      REQUIRE(ev->size() >= 2);
      CHECK((*ev)[ev->size() - 2].type == "notice");  // shown while the new desktop starts
      CHECK(ev->back().type == "moved");
      CHECK(ev->back().reason.find("stopped answering") != std::string::npos);
    }
    // The fake host is cut off rather than dead: its VMs still hold their disks. With one data
    // area the new desktop waits for the disk meanwhile (the sweep keeps trying).
    auto attached = [&] {
      int n = 0;
      for (const auto& [name, d] : lab.agents[alive]->desktops) n += d.data_attached ? 1 : 0;
      return n;
    };
    CHECK(attached() == (shared ? per_host[alive] : 2));
    lab.broker->sweep();
    CHECK(attached() == (shared ? per_host[alive] : 2));

    // It comes back (its agent restarted; its old VMs still there): they are destroyed, the
    // disks follow their users, and it takes new desktops again.
    lab.agents[dead]->down = false;
    lab.clock.advance(std::chrono::seconds(11));  // a down host is asked again after 10 s
    lab.broker->watch_hosts();
    CHECK(lab.table->state(dead) == HostState::up);
    CHECK(lab.agents[dead]->desktops.empty());
    CHECK(attached() == 2);
    lab.login("carol");
    lab.login("dave");
    bool placed_there = false;
    for (const auto& s : lab.broker->sessions()) placed_there = placed_there || s.host == dead;
    CHECK(placed_there);
  }
}

TEST_CASE("a host that was only slow (marked down, answering again when its users' turn comes) keeps its desktops") {
  Lab lab;
  lab.share_data_area();
  lab.login("alice");
  lab.login("bob");
  const auto before = lab.broker->sessions();
  const std::size_t busy = before[0].host;
  lab.agents[busy]->slow_loads = 2;  // two load queries time out, then it answers
  watch(lab, 2);
  CHECK(lab.broker->sessions().size() == 2);
  for (const auto& s : lab.broker->sessions()) {
    const auto was = std::find_if(before.begin(), before.end(), [&](const Session& x) { return x.id == s.id; });
    CHECK(s.host == was->host);
    CHECK(s.desktop == was->desktop);
  }
  CHECK(lab.broker->metrics().failovers == 0);
  CHECK(lab.agents[busy]->destroyed == 0);
  CHECK(lab.table->state(busy) == HostState::up);
}

TEST_CASE("a dead host's user for whom no host has room: the session ends with a message, the others keep theirs") {
  Lab lab(alloc::Mode::handoff, 2);
  std::vector<LoginResult> in;
  for (const char* u : {"alice", "bob", "carol", "dave", "erin", "frank", "gina"}) in.push_back(lab.login(u));
  const std::size_t dead = 0;
  lab.agents[dead]->down = true;
  watch(lab, 2);
  int ended = 0;
  int moved = 0;
  for (const auto& r : in) {
    auto ev = lab.broker->events(r.session, r.token, 0);
    if (!ev) continue;
    for (const auto& e : *ev) {
      ended += e.type == "ended" && e.reason.find("no other host could take you") != std::string::npos ? 1 : 0;
      moved += e.type == "moved" && e.reason.find("stopped answering") != std::string::npos ? 1 : 0;
    }
  }
  CHECK(ended + moved >= 1);
  for (const auto& s : lab.broker->sessions()) {
    CAPTURE(s.user);
    CHECK(s.host == 1);
    CHECK(lab.agents[1]->desktops.contains(s.desktop));
  }
  CHECK(lab.agents[1]->committed() <= 4096);
}
