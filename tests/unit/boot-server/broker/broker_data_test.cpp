// The store's data lease: the broker lets a desktop open a user's data disk only when the lease
// says no other desktop has it, whatever the agents and QEMU would have caught.
#include <doctest/doctest.h>

#include "broker_fixture.hpp"

using namespace labdesk;
using namespace labdesk::test;

TEST_CASE("a disk another boot-server's desktop claims stays out of a new desktop until that desktop is gone") {
  Lab lab;
  lab.share_data_area();
  // Another boot-server sharing the store and the hosts runs alice's desktop on host1.
  auto theirs = lab.agents[1]->create({"alice", "s-elsewhere", "desktop", 512, 512, 3});
  REQUIRE(theirs.has_value());
  REQUIRE(lab.store.claim_data({"alice", "host1", theirs->name}));
  // The test tries what the lease alone must stop: neither the agent's check nor QEMU's lock
  // would refuse a second writer here.
  lab.agents[1]->data_area->let_go("alice");

  auto a = lab.login("alice");
  const auto s = lab.broker->sessions().at(0);
  const auto& mine = lab.agents[s.host]->desktops.at(s.desktop);
  CHECK_FALSE(mine.data_attached);  // started without the disk
  lab.broker->sweep();
  CHECK_FALSE(lab.agents[s.host]->desktops.at(s.desktop).data_attached);  // its holder still runs
  CHECK(lab.store.data_lease("alice") == DataLease{"alice", "host1", theirs->name});

  REQUIRE(lab.agents[1]->destroy(theirs->name).has_value());  // the other lab's user logged out...
  lab.broker->sweep();  // ...without releasing the claim (it died): the holder is gone, so it goes
  CHECK(lab.agents[s.host]->desktops.at(s.desktop).data_attached);
  CHECK(lab.store.data_lease("alice") == DataLease{"alice", "host" + std::to_string(s.host), s.desktop});

  REQUIRE(lab.broker->logout(a.session, a.token).has_value());
  CHECK(lab.store.data_leases().empty());
}

TEST_CASE("the lease follows every desktop change: handoff, move, logout (one per host and user with data on each host)") {
  for (const bool shared : {false, true}) {
    CAPTURE(shared);
    Lab lab;
    if (shared) lab.share_data_area();
    auto a = lab.login("alice");
    auto holder = [&](const Session& s) {
      return DataLease{shared ? "alice" : "alice@host" + std::to_string(s.host), "host" + std::to_string(s.host),
                       s.desktop};
    };
    auto s = lab.broker->sessions().at(0);
    REQUIRE(lab.store.data_leases().size() == 1);
    CHECK(lab.store.data_leases()[0] == holder(s));

    REQUIRE(lab.broker->move(a.session, "host" + std::to_string(1 - s.host)).has_value());
    s = lab.broker->sessions().at(0);
    REQUIRE(lab.store.data_leases().size() == 1);
    CHECK(lab.store.data_leases()[0] == holder(s));
    CHECK(lab.agents[s.host]->desktops.at(s.desktop).data_attached);

    lab.login("bob");
    lab.login("carol");  // the third login shrinks alice by a handoff
    s = lab.broker->sessions().at(0);
    REQUIRE(s.user == "alice");
    CHECK(lab.store.data_lease(holder(s).disk) == holder(s));
    CHECK(lab.store.data_leases().size() == 3u);

    REQUIRE(lab.broker->logout(a.session, a.token).has_value());
    CHECK_FALSE(lab.store.data_lease(holder(s).disk).has_value());
  }
}

TEST_CASE("a restart keeps the leases of running desktops and releases the others") {
  Lab lab;
  lab.share_data_area();
  lab.login("alice");
  lab.login("bob");
  REQUIRE(lab.store.claim_data({"carol", "host0", "ld-carol-gone"}));  // its desktop went meanwhile
  REQUIRE(lab.store.claim_data({"dave", "host1", ""}));                // a start cut short
  auto before = lab.store.data_leases();
  lab.broker = lab.make();
  REQUIRE(lab.broker->reconcile().has_value());
  auto after = lab.store.data_leases();
  REQUIRE(after.size() == 2);
  CHECK(after[0].disk == "alice");
  CHECK(after[1].disk == "bob");
  for (const auto& s : lab.broker->sessions()) {
    CHECK(lab.store.data_lease(s.user) == DataLease{s.user, "host" + std::to_string(s.host), s.desktop});
  }
  CHECK(before.size() == 4u);
}
