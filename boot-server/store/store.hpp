// The boot-server's SQLite store (SQLiteCpp, WAL). Schema changes are numbered migrations
// recorded in schema_migrations; the broker adds its own (sessions, users, …) by passing more
// migrations with higher numbers to the constructor. One connection, guarded by a mutex.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <SQLiteCpp/Database.h>

#include "labdesk/common/error.hpp"

namespace labdesk::boot {

struct Migration {
  int version;        // applied in increasing order, each once; 1..99 are the network plane's
  std::string name;
  std::string sql;
};

// The network plane's own migrations.
std::span<const Migration> netplane_migrations();

struct ClientRecord {
  std::string mac;
  std::string ip;
  double uptime_s = 0;
  std::int64_t cpu = 0;
  std::int64_t mem_mib = 0;
  std::string boot_version;
  std::int64_t first_seen = 0;  // unix seconds
  std::int64_t last_seen = 0;
  std::int64_t announces = 0;
};

class Store {
 public:
  // Opens (creating) the database, turns on WAL and applies missing migrations, ours and
  // `extra`. Throws labdesk::Failure naming the file when it cannot be opened or migrated.
  explicit Store(const std::string& path, std::span<const Migration> extra = {});

  [[nodiscard]] int schema_version();

  // Throws labdesk::Failure 503 'store_unavailable' when SQLite cannot write (disk full).
  ClientRecord record_announce(const ClientRecord& facts, std::int64_t now);
  // Rows the clients table keeps at most (one per lab address, least recently seen dropped).
  static constexpr std::size_t kMaxClients = 4096;
  std::optional<ClientRecord> client(const std::string& mac);
  std::vector<ClientRecord> clients();

  // For the broker's own tables: run `fn(db)` under the store's lock.
  template <typename Fn>
  auto with_db(Fn&& fn) {
    std::lock_guard lock(mu_);
    try {
      return fn(db_);
    } catch (const SQLite::Exception& e) {
      throw_unavailable(e);
    }
  }
  // Throws labdesk::Failure 503 'store_unavailable' for an SQLite error (disk full, I/O).
  [[noreturn]] static void throw_unavailable(const SQLite::Exception& e);

 private:
  void migrate(std::span<const Migration> extra);
  std::mutex mu_;
  SQLite::Database db_;
};

}  // namespace labdesk::boot
