// One contract for broker::AgentPort, run against the fake the broker's unit tests use and against
// the real agent (HttpAgent → labdesk-agent's router on libvirt's test:///default), so that the
// fake cannot drift from what the broker meets on a host.
#include <doctest/doctest.h>

#include "../../../fakes/broker_fakes.hpp"
#include "../../hypervisor-agent/fixture.hpp"
#include "labdesk/agents/http_agent.hpp"

using namespace labdesk;
namespace aa = api::agent;

namespace {

constexpr std::int64_t kCapacityMib = 2048;  // the fixture's desktops.capacity_mib

// The real agent in-process, spoken to over HTTP as the boot-server does.
struct RealAgent : test::RunningAgent {
  agents::HttpAgent port{url(), http::ClientOptions{.bearer_token = tree.token}};
};

aa::CreateDesktop spec(const std::string& user, std::int64_t mib, std::int64_t max_mib) {
  aa::CreateDesktop s;
  s.user = user;
  s.session = "s-" + user;
  s.image = "deb";
  s.tier = 1;
  s.memory_mib = mib;
  s.max_memory_mib = max_mib;
  return s;
}

template <typename T>
std::string code_of(const Result<T>& r) {
  return r ? std::string("ok") : r.error().code;
}

template <typename T>
int status_of(const Result<T>& r) {
  return r ? 200 : r.error().status;
}

std::vector<std::string> event_types(broker::AgentPort& a, const std::string& desktop) {
  auto batch = a.events(0, std::chrono::seconds(0));
  REQUIRE(batch);
  std::vector<std::string> out;
  for (const auto& e : batch->events) {
    CHECK(e.seq <= batch->next);
    if (e.desktop == desktop) out.push_back(e.type);
  }
  return out;
}

// What a hypervisor may lack: libvirt's test:///default driver runs no VNC server (port 0) and
// cannot change a running domain's graphics (the console password path is checked on a real
// libvirtd by tests/integration/hypervisor-agent/agent_flow_test.cpp).
struct Host {
  bool vnc_servers = true;
  bool console_passwords = true;
  bool hot_plug = true;  // plugging a disk into a running domain
};

// The contract itself: what the broker relies on, in one pass.
void honours_the_contract(broker::AgentPort& a, Host host = {}) {
  auto idle = a.load();
  REQUIRE(idle);
  CHECK(idle->committed_mib == 0);
  CHECK((idle->accel == "kvm" || idle->accel == "tcg"));

  auto made = a.create(spec("alice", 512, 1024));
  REQUIRE_MESSAGE(made, (made ? "" : made.error().message));
  const std::string name = made->name;
  CHECK(name.starts_with("ld-alice-"));
  CHECK(made->state == "running");
  CHECK(made->memory_mib == 512);
  CHECK(made->max_memory_mib == 1024);
  if (host.vnc_servers) CHECK(made->vnc.port > 0);
  CHECK_FALSE(made->vnc.password.empty());  // the one hand-out at start

  auto listed = a.list();
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].name == name);
  CHECK((*listed)[0].user == "alice");
  CHECK((*listed)[0].vnc.port == made->vnc.port);
  CHECK((*listed)[0].vnc.password.empty());  // a list never carries a console password

  // One desktop per user and host (the data disk is in one VM); never past capacity.
  auto twice = a.create(spec("alice", 256, 256));
  CHECK(code_of(twice) == "user_busy");
  CHECK(status_of(twice) == 409);
  auto full = a.create(spec("bob", kCapacityMib - 256, kCapacityMib - 256));
  CHECK(code_of(full) == "no_capacity");
  CHECK(status_of(full) == 409);

  // A handoff's replacement starts beside it without the data disk (one such per user), and
  // gets the disk only once the old desktop has let go of it.
  CHECK(made->data_attached);
  auto later = spec("alice", 256, 256);
  later.data_later = true;
  auto repl = a.create(later);
  REQUIRE_MESSAGE(repl, (repl ? "" : repl.error().message));
  CHECK_FALSE(repl->data_attached);
  CHECK(code_of(a.create(later)) == "user_busy");
  CHECK(code_of(a.attach_data(repl->name)) == "data_in_use");
  CHECK(status_of(a.attach_data(repl->name)) == 409);
  CHECK(status_of(a.attach_data("ld-nobody-000001")) == 404);

  auto fresh = a.console_password(name, std::chrono::seconds(60));
  if (host.console_passwords) {
    REQUIRE_MESSAGE(fresh, (fresh ? "" : fresh.error().code + ": " + fresh.error().message));
    CHECK_FALSE(fresh->password.empty());
    CHECK(fresh->password != made->vnc.password);
    CHECK(fresh->port == made->vnc.port);
  } else {
    // An error the broker falls back from (it keeps handing out the start's password).
    REQUIRE_FALSE(fresh);
    CHECK(fresh.error().status >= 500);
  }
  CHECK(status_of(a.console_password("ld-nobody-000001", std::chrono::seconds(60))) == 404);

  auto grown = a.resize(name, 768);
  REQUIRE(grown);
  CHECK(grown->requested_mib == 768);
  auto too_big = a.resize(name, 2000);
  CHECK(code_of(too_big) == "bad_memory");
  CHECK(status_of(too_big) == 400);

  CHECK(code_of(a.retire_data("alice", "archive")) == "in_use");
  CHECK(status_of(a.retire_data("alice", "archive")) == 409);
  CHECK(status_of(a.retire_data("alice", "shred")) == 400);

  REQUIRE(a.destroy(name));
  CHECK(status_of(a.destroy(name)) == 404);
  CHECK(event_types(a, name) == std::vector<std::string>{"started", "resized", "stopped"});
  auto in = a.attach_data(repl->name);
  if (host.hot_plug) {
    REQUIRE_MESSAGE(in, (in ? "" : in.error().message));
    CHECK(in->data_attached);
    CHECK(a.attach_data(repl->name).has_value());  // a retried call changes nothing
    CHECK((*a.list())[0].data_attached);
  } else {
    REQUIRE_FALSE(in);
    CHECK(in.error().status >= 500);
  }
  REQUIRE(a.destroy(repl->name));
  CHECK(a.list()->empty());
  CHECK(event_types(a, repl->name) == (host.hot_plug ? std::vector<std::string>{"started", "data_attached", "stopped"}
                                                     : std::vector<std::string>{"started", "stopped"}));

  // The data disk made for alice's desktop leaves when an admin deletes her; only once.
  auto gone = a.retire_data("alice", "archive");
  REQUIRE(gone);
  CHECK(gone->found);
  CHECK_FALSE(gone->archived_to.empty());
  auto again = a.retire_data("alice", "delete");
  REQUIRE(again);
  CHECK_FALSE(again->found);
}

}  // namespace

TEST_CASE("agent contract: the fake agent") {
  fakes::FakeAgent fake("h1", kCapacityMib);
  honours_the_contract(fake);
}

TEST_CASE("agent contract: the real agent on test:///default over HTTP") {
  RealAgent real;
  honours_the_contract(real.port, Host{.vnc_servers = false, .console_passwords = false, .hot_plug = false});
}
