#include "store/broker_store.hpp"

#include <array>

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/VariadicBind.h>

namespace labdesk::boot {
namespace {

const std::array kMigrations{
    Migration{100, "users",
              "CREATE TABLE users (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL,"
              " admin INTEGER NOT NULL DEFAULT 0,"
              " created_at INTEGER NOT NULL DEFAULT (strftime('%s','now')))"},
    Migration{101, "sessions",
              "CREATE TABLE sessions (id TEXT PRIMARY KEY, token TEXT NOT NULL,"
              " user TEXT NOT NULL UNIQUE, client_id TEXT NOT NULL, client_ip TEXT NOT NULL,"
              " ord INTEGER NOT NULL, host INTEGER NOT NULL, desktop TEXT NOT NULL,"
              " mib INTEGER NOT NULL, max_mib INTEGER NOT NULL, tier INTEGER NOT NULL,"
              " vnc_host TEXT NOT NULL, vnc_port INTEGER NOT NULL, vnc_password TEXT NOT NULL,"
              " lab_port INTEGER NOT NULL,"
              " updated_at INTEGER NOT NULL DEFAULT (strftime('%s','now')))"},
    Migration{102, "data_leases",
              "CREATE TABLE data_leases (disk TEXT PRIMARY KEY, host TEXT NOT NULL, desktop TEXT NOT NULL,"
              " since INTEGER NOT NULL DEFAULT (strftime('%s','now')))"},
    Migration{103, "drained_hosts",
              "CREATE TABLE drained_hosts (host TEXT PRIMARY KEY,"
              " since INTEGER NOT NULL DEFAULT (strftime('%s','now')))"},
};

broker::DataLease lease_row(SQLite::Statement& q) {
  return {q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString()};
}

}  // namespace

std::span<const Migration> broker_migrations() { return kMigrations; }

void SqliteSessionStore::save(const broker::Session& s) {
  store_.with_db([&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "INSERT OR REPLACE INTO sessions (id, token, user, client_id, client_ip, ord,"
                        " host, desktop, mib, max_mib, tier, vnc_host, vnc_port, vnc_password, lab_port)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    SQLite::bind(q, s.id, s.token, s.user, s.client_id, s.client_ip, static_cast<std::int64_t>(s.order),
                 static_cast<std::int64_t>(s.host), s.desktop, s.mib, s.max_mib, s.tier, s.vnc.host, s.vnc.port,
                 s.vnc_password, s.lab_port);
    q.exec();
  });
}

void SqliteSessionStore::remove(const std::string& id) {
  store_.with_db([&](SQLite::Database& db) {
    SQLite::Statement q(db, "DELETE FROM sessions WHERE id = ?");
    q.bind(1, id);
    q.exec();
  });
}

std::vector<broker::Session> SqliteSessionStore::load_all() {
  return store_.with_db([&](SQLite::Database& db) {
    std::vector<broker::Session> out;
    SQLite::Statement q(db, "SELECT id, token, user, client_id, client_ip, ord, host, desktop, mib,"
                            " max_mib, tier, vnc_host, vnc_port, vnc_password, lab_port FROM sessions"
                            " ORDER BY ord");
    while (q.executeStep()) {
      broker::Session s;
      int i = 0;
      s.id = q.getColumn(i++).getString();
      s.token = q.getColumn(i++).getString();
      s.user = q.getColumn(i++).getString();
      s.client_id = q.getColumn(i++).getString();
      s.client_ip = q.getColumn(i++).getString();
      s.order = static_cast<std::uint64_t>(q.getColumn(i++).getInt64());
      s.host = static_cast<std::size_t>(q.getColumn(i++).getInt64());
      s.desktop = q.getColumn(i++).getString();
      s.mib = q.getColumn(i++).getInt64();
      s.max_mib = q.getColumn(i++).getInt64();
      s.tier = q.getColumn(i++).getInt();
      s.vnc.host = q.getColumn(i++).getString();
      s.vnc.port = q.getColumn(i++).getInt();
      s.vnc_password = q.getColumn(i++).getString();
      s.lab_port = q.getColumn(i++).getInt();
      out.push_back(std::move(s));
    }
    return out;
  });
}

std::optional<broker::User> SqliteUserStore::find(const std::string& name) {
  return store_.with_db([&](SQLite::Database& db) -> std::optional<broker::User> {
    SQLite::Statement q(db, "SELECT name, password_hash, admin FROM users WHERE name = ?");
    q.bind(1, name);
    if (!q.executeStep()) return std::nullopt;
    return broker::User{q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getInt() != 0};
  });
}

std::vector<broker::User> SqliteUserStore::all() {
  return store_.with_db([&](SQLite::Database& db) {
    std::vector<broker::User> out;
    SQLite::Statement q(db, "SELECT name, password_hash, admin FROM users ORDER BY name");
    while (q.executeStep()) {
      out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getInt() != 0});
    }
    return out;
  });
}

void SqliteUserStore::put(const broker::User& u) {
  store_.with_db([&](SQLite::Database& db) {
    SQLite::Statement q(db, "INSERT OR REPLACE INTO users (name, password_hash, admin) VALUES (?, ?, ?)");
    SQLite::bind(q, u.name, u.password_hash, u.admin ? 1 : 0);
    q.exec();
  });
}

bool SqliteUserStore::remove(const std::string& name) {
  return store_.with_db([&](SQLite::Database& db) {
    SQLite::Statement q(db, "DELETE FROM users WHERE name = ?");
    q.bind(1, name);
    return q.exec() > 0;
  });
}

bool SqliteSessionStore::claim_data(const broker::DataLease& holder) {
  return store_.with_db([&](SQLite::Database& db) {
    // IMMEDIATE: the read and the write are one step for every process on this database.
    db.exec("BEGIN IMMEDIATE");
    try {
      SQLite::Statement q(db, "SELECT disk, host, desktop FROM data_leases WHERE disk = ?");
      q.bind(1, holder.disk);
      bool ok = !q.executeStep() || broker::lease_allows(lease_row(q), holder);
      if (ok) {
        SQLite::Statement w(db, "INSERT OR REPLACE INTO data_leases (disk, host, desktop) VALUES (?,?,?)");
        SQLite::bind(w, holder.disk, holder.host, holder.desktop);
        w.exec();
      }
      db.exec("COMMIT");
      return ok;
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
  });
}

void SqliteSessionStore::release_data(const broker::DataLease& holder) {
  store_.with_db([&](SQLite::Database& db) {
    SQLite::Statement q(db, "DELETE FROM data_leases WHERE disk = ? AND host = ? AND desktop = ?");
    SQLite::bind(q, holder.disk, holder.host, holder.desktop);
    q.exec();
  });
}

std::optional<broker::DataLease> SqliteSessionStore::data_lease(const std::string& disk) {
  return store_.with_db([&](SQLite::Database& db) -> std::optional<broker::DataLease> {
    SQLite::Statement q(db, "SELECT disk, host, desktop FROM data_leases WHERE disk = ?");
    q.bind(1, disk);
    if (!q.executeStep()) return std::nullopt;
    return lease_row(q);
  });
}

std::vector<broker::DataLease> SqliteSessionStore::data_leases() {
  return store_.with_db([&](SQLite::Database& db) {
    std::vector<broker::DataLease> out;
    SQLite::Statement q(db, "SELECT disk, host, desktop FROM data_leases ORDER BY disk");
    while (q.executeStep()) out.push_back(lease_row(q));
    return out;
  });
}

void SqliteSessionStore::set_drained(const std::string& host, bool drained) {
  store_.with_db([&](SQLite::Database& db) {
    SQLite::Statement q(db, drained ? "INSERT OR IGNORE INTO drained_hosts (host) VALUES (?)"
                                    : "DELETE FROM drained_hosts WHERE host = ?");
    q.bind(1, host);
    q.exec();
  });
}

std::set<std::string> SqliteSessionStore::drained_hosts() {
  return store_.with_db([&](SQLite::Database& db) {
    std::set<std::string> out;
    SQLite::Statement q(db, "SELECT host FROM drained_hosts");
    while (q.executeStep()) out.insert(q.getColumn(0).getString());
    return out;
  });
}

}  // namespace labdesk::boot
