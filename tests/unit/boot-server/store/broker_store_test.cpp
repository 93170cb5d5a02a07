#include <doctest/doctest.h>

#include <filesystem>

#include "store/broker_store.hpp"

using namespace labdesk;

TEST_CASE("broker tables in the SQLite store: sessions and users survive a reopen") {
  auto path = std::filesystem::temp_directory_path() / ("labdesk-broker-store-" + std::to_string(::getpid()) + ".sqlite");
  std::filesystem::remove(path);
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
  std::filesystem::remove(path);
}
