#include <doctest/doctest.h>

#include <filesystem>

#include "store/broker_store.hpp"

using namespace labdesk;

namespace {
// The database and SQLite's WAL files beside it: a test leaves nothing in /tmp.
void remove_db(const std::filesystem::path& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}
}  // namespace

TEST_CASE("broker tables in the SQLite store: sessions and users survive a reopen") {
  auto path = std::filesystem::temp_directory_path() / ("labdesk-broker-store-" + std::to_string(::getpid()) + ".sqlite");
  remove_db(path);
  {
    boot::Store store(path.string(), boot::broker_migrations());
    CHECK(store.schema_version() >= 101);
    boot::SqliteSessionStore sessions(store);
    broker::Session s;
    s.id = "s1";
    s.token = "t";
    s.user = "alice";
    s.client_id = "pc-1";
    s.client_ip = "10.77.0.50";
    s.order = 7;
    s.host = 1;
    s.desktop = "ld-alice-1";
    s.mib = 2048;
    s.max_mib = 4096;
    s.tier = 1;
    s.vnc = {"10.0.0.2", 5901};
    s.vnc_password = "pw";
    s.lab_port = 15900;
    sessions.save(s);
    s.mib = 1024;
    sessions.save(s);  // replace, not a second row
    boot::SqliteUserStore users(store);
    users.put({"alice", "$argon2id$x", true});
  }
  boot::Store again(path.string(), boot::broker_migrations());
  boot::SqliteSessionStore sessions(again);
  auto all = sessions.load_all();
  REQUIRE(all.size() == 1);
  CHECK(all[0].mib == 1024);
  CHECK(all[0].vnc.port == 5901);
  CHECK(all[0].order == 7u);
  boot::SqliteUserStore users(again);
  REQUIRE(users.find("alice").has_value());
  CHECK(users.find("alice")->admin);
  CHECK(users.remove("alice"));
  CHECK_FALSE(users.find("alice").has_value());
  sessions.remove("s1");
  CHECK(sessions.load_all().empty());
  remove_db(path);
}

namespace {

// The data lease contract, for the in-memory store the broker's tests use and for SQLite.
void data_lease_contract(broker::SessionStore& st) {
  const broker::DataLease starting{"alice", "host-1", ""};
  const broker::DataLease a1{"alice", "host-1", "ld-alice-1"};
  const broker::DataLease a2{"alice", "host-2", "ld-alice-2"};
  CHECK_FALSE(st.data_lease("alice").has_value());
  CHECK(st.claim_data(starting));                 // free: taken while the desktop is created
  CHECK_FALSE(st.claim_data(a2));                 // another host's desktop may not have it
  CHECK(st.claim_data(a1));                       // the created desktop's name fills the claim in
  CHECK(st.data_lease("alice") == a1);
  CHECK(st.claim_data(a1));                       // claiming again is harmless
  CHECK_FALSE(st.claim_data(starting));           // a start on the same host waits for a1 too
  CHECK_FALSE(st.claim_data(a2));
  st.release_data(a2);                            // not a2's to give up
  CHECK(st.data_lease("alice") == a1);
  CHECK(st.claim_data({"bob", "host-2", "ld-bob-1"}));  // one lease per user
  CHECK(st.data_leases().size() == 2u);
  st.release_data(a1);
  CHECK(st.claim_data(a2));
  CHECK(st.data_lease("alice") == a2);
  st.release_data(a2);
  st.release_data({"bob", "host-2", "ld-bob-1"});
  CHECK(st.data_leases().empty());
}

}  // namespace

TEST_CASE("data leases: one desktop has a user's disk at a time (memory store and SQLite, one contract)") {
  SUBCASE("memory") {
    broker::MemorySessionStore st;
    data_lease_contract(st);
  }
  SUBCASE("sqlite") {
    auto path = std::filesystem::temp_directory_path() / ("labdesk-lease-" + std::to_string(::getpid()) + ".sqlite");
    remove_db(path);
    {
      boot::Store store(path.string(), boot::broker_migrations());
      boot::SqliteSessionStore st(store);
      data_lease_contract(st);
      CHECK(st.claim_data({"carol", "host-1", "ld-carol-1"}));
    }
    boot::Store again(path.string(), boot::broker_migrations());  // a restart keeps the lease
    boot::SqliteSessionStore st(again);
    CHECK(st.data_lease("carol") == broker::DataLease{"carol", "host-1", "ld-carol-1"});
    remove_db(path);
  }
}

namespace {

void drain_contract(broker::SessionStore& st) {
  CHECK(st.drained_hosts().empty());
  st.set_drained("host-1", true);
  st.set_drained("host-1", true);  // twice is once
  st.set_drained("host-2", true);
  CHECK(st.drained_hosts() == std::set<std::string>{"host-1", "host-2"});
  st.set_drained("host-2", false);
  st.set_drained("host-9", false);  // never drained: nothing to do
  CHECK(st.drained_hosts() == std::set<std::string>{"host-1"});
}

}  // namespace

TEST_CASE("drained hosts: set, cleared, kept across a restart (memory store and SQLite, one contract)") {
  SUBCASE("memory") {
    broker::MemorySessionStore st;
    drain_contract(st);
  }
  SUBCASE("sqlite") {
    auto path = std::filesystem::temp_directory_path() / ("labdesk-drain-" + std::to_string(::getpid()) + ".sqlite");
    remove_db(path);
    {
      boot::Store store(path.string(), boot::broker_migrations());
      boot::SqliteSessionStore st(store);
      drain_contract(st);
    }
    boot::Store again(path.string(), boot::broker_migrations());
    boot::SqliteSessionStore st(again);
    CHECK(st.drained_hosts() == std::set<std::string>{"host-1"});
    remove_db(path);
  }
}
