#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>

#include <SQLiteCpp/Statement.h>

#include "store/store.hpp"

namespace {

using namespace labdesk;

struct TempDb {
  std::filesystem::path path = std::filesystem::temp_directory_path() / ("labdesk-store-" + std::to_string(::getpid()) + ".sqlite");
  TempDb() { clean(); }
  ~TempDb() { clean(); }
  void clean() const {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  }
};

TEST_CASE("store: WAL, migrations once, broker migrations appended") {
  TempDb db;
  {
    boot::Store s(db.path.string());
    CHECK(s.schema_version() == 3);
    // Forwards belong to the broker's sessions: the network plane's old copy is gone.
    CHECK(s.with_db([](SQLite::Database& d) { return d.tableExists("forwards"); }) == false);
    CHECK(s.with_db([](SQLite::Database& d) { return d.execAndGet("PRAGMA journal_mode").getString(); }) == "wal");
  }
  const boot::Migration broker[] = {{100, "sessions", "CREATE TABLE sessions (id TEXT PRIMARY KEY)"}};
  boot::Store s(db.path.string(), broker);
  CHECK(s.schema_version() == 100);
  boot::Store again(db.path.string(), broker);  // re-applying nothing
  CHECK(again.with_db([](SQLite::Database& d) { return d.execAndGet("SELECT COUNT(*) FROM schema_migrations").getInt(); }) == 4);
}

TEST_CASE("store: announces upsert clients and count them") {
  TempDb db;
  boot::Store s(db.path.string());
  boot::ClientRecord c{"52:54:00:77:00:10", "10.77.0.100", 5.5, 1, 371, "v1"};
  auto r = s.record_announce(c, 1000);
  CHECK(r.announces == 1);
  CHECK(r.first_seen == 1000);
  c.ip = "10.77.0.101";
  r = s.record_announce(c, 2000);
  CHECK(r.announces == 2);
  CHECK(r.first_seen == 1000);
  CHECK(r.last_seen == 2000);
  CHECK(r.ip == "10.77.0.101");
  CHECK(s.clients().size() == 1);
  CHECK(!s.client("52:54:00:00:00:00"));
}

TEST_CASE("store: the clients table stays bounded whatever a lab PC announces") {
  TempDb db;
  boot::Store s(db.path.string());
  // One PC claiming a new MAC on every announce keeps one row, the latest.
  for (int i = 0; i < 50; ++i) {
    char mac[18];
    std::snprintf(mac, sizeof mac, "52:54:00:00:00:%02x", i);
    (void)s.record_announce({mac, "10.77.0.66", 1, 1, 512, ""}, 1000 + i);
  }
  REQUIRE(s.clients().size() == 1);
  CHECK(s.clients()[0].mac == "52:54:00:00:00:31");
  // Past kMaxClients rows, the least recently seen go.
  for (std::size_t i = 0; i < boot::Store::kMaxClients + 10; ++i) {
    char mac[18];
    std::snprintf(mac, sizeof mac, "52:54:01:00:%02zx:%02zx", i / 256, i % 256);
    (void)s.record_announce({mac, "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256),
                             1, 1, 512, ""}, 5000 + static_cast<std::int64_t>(i));
  }
  CHECK(s.clients().size() == boot::Store::kMaxClients);
  CHECK(!s.client("52:54:00:00:00:31"));
}

TEST_CASE("store: owner-only files, and a store that cannot be written is a 503, not a crash") {
  TempDb db;
  {
    boot::Store s(db.path.string());
    (void)s.record_announce({"52:54:00:00:00:01", "10.77.0.5", 1, 1, 512, ""}, 1);
    for (const char* suffix : {"", "-wal"}) {
      auto perms = std::filesystem::status(db.path.string() + suffix).permissions();
      INFO(suffix);
      CHECK((perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) == std::filesystem::perms::none);
    }
    // As if the disk filled: SQLite refuses the write.
    s.with_db([](SQLite::Database& d) { d.exec("PRAGMA query_only = ON"); });
    try {
      (void)s.record_announce({"52:54:00:00:00:02", "10.77.0.6", 1, 1, 512, ""}, 2);
      FAIL("the write went through");
    } catch (const Failure& e) {
      CHECK(e.error().status == 503);
      CHECK(e.error().code == "store_unavailable");
    }
    CHECK_THROWS_AS(s.with_db([](SQLite::Database& d) { d.exec("INSERT INTO clients(mac) VALUES ('x')"); }), Failure);
  }
}

TEST_CASE("store: an unusable path is a clear error") {
  CHECK_THROWS_WITH_AS(boot::Store("/nonexistent-dir/x.sqlite"), doctest::Contains("cannot open the store '/nonexistent-dir/x.sqlite'"), Failure);
}

}  // namespace
