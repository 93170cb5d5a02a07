// Arrivals that only start the newcomer run beside each other; a logout's slow VM stop holds no
// lock. Agent calls are held at a gate the test opens, so "meanwhile" is a fact, not a timing.
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "broker_fixture.hpp"

using namespace labdesk;
using namespace labdesk::broker;
using labdesk::test::Lab;

namespace {

// Holds agent calls for one name until opened; tells the test when one is waiting.
class Gate {
 public:
  void hold(const std::string& who) {
    std::unique_lock lock(mu_);
    if (who != name_) return;
    waiting_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  void await_waiting() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return waiting_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  explicit Gate(std::string name) : name_(std::move(name)) {}

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string name_;
  bool waiting_ = false;
  bool open_ = false;
};

template <class T>
bool finishes(std::future<T>& f) {  // a guard against a hang, not a measurement
  return f.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
}

Result<LoginResult> login(Lab& lab, const std::string& user) {
  return lab.broker->login({user, "pc-" + user, "10.77.0.1" + std::to_string(user.size())});
}

}  // namespace

TEST_CASE("a login completes while another user's desktop is still starting") {
  Lab lab;
  Gate gate("alice");
  for (auto* a : lab.agents) a->on_create = [&](const std::string& u) { gate.hold(u); };
  auto alice = std::async(std::launch::async, [&] { return login(lab, "alice"); });
  gate.await_waiting();
  auto bob = std::async(std::launch::async, [&] { return login(lab, "bob"); });
  bool bob_done = finishes(bob);
  CHECK(bob_done);
  auto sessions_meanwhile = lab.broker->sessions();
  gate.open();
  REQUIRE(finishes(alice));
  if (!bob_done) return;
  auto a = alice.get();
  auto b = bob.get();
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  REQUIRE(sessions_meanwhile.size() == 1);
  CHECK(sessions_meanwhile[0].user == "bob");
  CHECK(a->endpoint.port != b->endpoint.port);  // alice's lab port was reserved before bob came
  // The same tiers as when they come one after the other: the arrival in flight was counted.
  Lab serial;
  auto sa = login(serial, "alice");
  auto sb = login(serial, "bob");
  REQUIRE(sa.has_value());
  REQUIRE(sb.has_value());
  CHECK(a->tier_mib == sa->tier_mib);
  CHECK(b->tier_mib == sb->tier_mib);
  auto sessions = lab.broker->sessions();
  REQUIRE(sessions.size() == 2);
  CHECK(sessions[0].user == "alice");  // the order of arrival is kept for the allocator
  CHECK(sessions[0].host != sessions[1].host);
}

TEST_CASE("a login that shrinks others waits until the arrivals in flight have landed") {
  Lab lab;
  REQUIRE(login(lab, "alice").has_value());
  Gate gate("bob");
  std::mutex order_mu;
  std::vector<std::string> creates;
  for (auto* a : lab.agents) {
    a->on_create = [&](const std::string& u) {
      gate.hold(u);
      std::lock_guard lock(order_mu);
      creates.push_back(u);
    };
  }
  auto bob = std::async(std::launch::async, [&] { return login(lab, "bob"); });
  gate.await_waiting();
  auto carol = std::async(std::launch::async, [&] { return login(lab, "carol"); });
  // Carol's plan shrinks alice: it may not start anything while bob's desktop is starting.
  CHECK(carol.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);
  gate.open();
  REQUIRE(finishes(bob));
  REQUIRE(finishes(carol));
  REQUIRE(bob.get().has_value());
  auto c = carol.get();
  REQUIRE_MESSAGE(c.has_value(), c.error().message);
  CHECK(c->tier_mib == 2048);
  REQUIRE_FALSE(creates.empty());
  CHECK(creates.front() == "bob");
  for (auto* a : lab.agents) CHECK(a->committed() <= 4096);
  CHECK(lab.broker->metrics().handoffs == 1);
  CHECK(lab.broker->sessions()[0].mib == 2048);  // alice, handed off to the smaller tier
}

TEST_CASE("a logout's slow VM stop blocks no login, and its memory stays taken until the VM is gone") {
  Lab lab(alloc::Mode::handoff, 1);
  lab.opt.policy.tiers = {4096};  // one user fills the host
  lab.broker = lab.make();
  auto alice = login(lab, "alice");
  REQUIRE(alice.has_value());
  REQUIRE(alice->tier_mib == 4096);
  std::string desktop = lab.broker->sessions()[0].desktop;
  Gate gate(desktop);
  lab.agents[0]->on_destroy = [&](const std::string& d) { gate.hold(d); };
  auto out = std::async(std::launch::async, [&] { return lab.broker->logout(alice->session, alice->token); });
  gate.await_waiting();
  // The host is full until alice's VM is gone: bob's login waits for it rather than being
  // refused or placed over it.
  auto bob = std::async(std::launch::async, [&] { return login(lab, "bob"); });
  CHECK(bob.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);
  CHECK(lab.agents[0]->committed() == 4096);
  // Admin reads and other clients' calls go on meanwhile.
  CHECK(lab.broker->sessions().empty());
  gate.open();
  REQUIRE(finishes(out));
  REQUIRE(finishes(bob));
  CHECK(out.get().has_value());
  auto b = bob.get();
  REQUIRE_MESSAGE(b.has_value(), b.error().message);
  CHECK(b->tier_mib == 4096);
  CHECK(lab.agents[0]->committed() == 4096);
  CHECK(lab.broker->metrics().rejections == 0);
}

TEST_CASE("a login on a free host goes on while a logout elsewhere waits for its VM to stop") {
  Lab lab;
  auto alice = login(lab, "alice");
  REQUIRE(alice.has_value());
  auto s = lab.broker->sessions()[0];
  Gate gate(s.desktop);
  for (auto* a : lab.agents) a->on_destroy = [&](const std::string& d) { gate.hold(d); };
  auto out = std::async(std::launch::async, [&] { return lab.broker->logout(alice->session, alice->token); });
  gate.await_waiting();
  auto bob = std::async(std::launch::async, [&] { return login(lab, "bob"); });
  bool bob_done = finishes(bob);
  CHECK(bob_done);
  gate.open();
  REQUIRE(finishes(out));
  if (!bob_done) return;
  auto b = bob.get();
  REQUIRE(b.has_value());
  CHECK(lab.broker->sessions()[0].host != s.host);  // not over alice's still-running VM
}

TEST_CASE("a failed start gives back the reserved lab port and place") {
  Lab lab;
  lab.probe.ready = false;  // the desktop never answers on VNC: the login fails after the create
  auto r = login(lab, "alice");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == "desktop_not_ready");
  lab.probe.ready = true;
  auto bob = login(lab, "bob");
  REQUIRE_MESSAGE(bob.has_value(), bob.error().message);
  CHECK(bob->endpoint.port == lab.opt.first_lab_port);
  CHECK(bob->tier_mib == 4096);
  CHECK(lab.committed() == 4096);  // alice's failed VM was destroyed, not left counted
  auto again = login(lab, "alice");
  REQUIRE_MESSAGE(again.has_value(), again.error().message);
  CHECK(lab.broker->sessions().size() == 2);
}
