#include "store/store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <SQLiteCpp/VariadicBind.h>

namespace labdesk::boot {
namespace {

const std::array kMigrations{
    Migration{1, "clients",
              "CREATE TABLE clients ("
              " mac TEXT PRIMARY KEY, ip TEXT NOT NULL, uptime_s REAL NOT NULL,"
              " cpu INTEGER NOT NULL, mem_mib INTEGER NOT NULL, boot_version TEXT NOT NULL DEFAULT '',"
              " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, announces INTEGER NOT NULL);"
              "CREATE INDEX clients_ip ON clients(ip);"},
    Migration{2, "forwards",
              "CREATE TABLE forwards ("
              " port INTEGER PRIMARY KEY, session TEXT NOT NULL, client_ip TEXT NOT NULL,"
              " target_ip TEXT NOT NULL, target_port INTEGER NOT NULL,"
              " updated_at INTEGER NOT NULL DEFAULT (strftime('%s','now')));"
              "CREATE UNIQUE INDEX forwards_session ON forwards(session);"},
    // A forward has one owner, the broker's session row (lab_port, client_ip, vnc): the copy
    // the network plane kept goes.
    Migration{3, "forwards_owned_by_sessions", "DROP TABLE forwards;"},
};

ClientRecord read_client(SQLite::Statement& q) {
  ClientRecord c;
  c.mac = q.getColumn(0).getString();
  c.ip = q.getColumn(1).getString();
  c.uptime_s = q.getColumn(2).getDouble();
  c.cpu = q.getColumn(3).getInt64();
  c.mem_mib = q.getColumn(4).getInt64();
  c.boot_version = q.getColumn(5).getString();
  c.first_seen = q.getColumn(6).getInt64();
  c.last_seen = q.getColumn(7).getInt64();
  c.announces = q.getColumn(8).getInt64();
  return c;
}

constexpr const char* kClientColumns =
    "SELECT mac, ip, uptime_s, cpu, mem_mib, boot_version, first_seen, last_seen, announces FROM clients";

}  // namespace

std::span<const Migration> netplane_migrations() { return kMigrations; }

namespace {

// The store holds session tokens and password hashes: owner-only. Made so before SQLite opens it,
// since SQLite gives the -wal and -shm files the main file's mode.
const std::string& private_file(const std::string& path) {
  if (path == ":memory:" || path.empty()) return path;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) {
    (void)::fchmod(fd, 0600);
    ::close(fd);
  }
  for (const char* suffix : {"-wal", "-shm"}) (void)::chmod((path + suffix).c_str(), 0600);
  return path;
}

}  // namespace

Store::Store(const std::string& path, std::span<const Migration> extra) try
    : db_(private_file(path), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX) {
  db_.setBusyTimeout(5000);
  db_.exec("PRAGMA journal_mode=WAL");
  db_.exec("PRAGMA synchronous=NORMAL");
  db_.exec("PRAGMA foreign_keys=ON");
  migrate(extra);
} catch (const SQLite::Exception& e) {
  throw Failure(Error{"store", "cannot open the store '" + path + "': " + e.what() +
                                   "; check store.path / boot.state_dir and their permissions", 500});
}

// A store that cannot be written (disk full, I/O error) is a 503 for the request that needed it,
// never the end of the daemon.
void Store::throw_unavailable(const SQLite::Exception& e) {
  throw Failure(Error{"store_unavailable", std::string("the boot-server's store cannot be used: ") + e.what() +
                                                "; check the disk under boot.state_dir", 503});
}

void Store::migrate(std::span<const Migration> extra) {
  db_.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
           " name TEXT NOT NULL, applied_at INTEGER NOT NULL DEFAULT (strftime('%s','now')))");
  std::vector<Migration> all(kMigrations.begin(), kMigrations.end());
  all.insert(all.end(), extra.begin(), extra.end());
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
  const int have = schema_version();
  for (const auto& m : all) {
    if (m.version <= have) continue;
    SQLite::Transaction t(db_);
    db_.exec(m.sql);
    SQLite::Statement ins(db_, "INSERT INTO schema_migrations(version, name) VALUES (?, ?)");
    SQLite::bind(ins, m.version, m.name);
    ins.exec();
    t.commit();
  }
}

int Store::schema_version() {
  SQLite::Statement q(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  q.executeStep();
  return q.getColumn(0).getInt();
}

ClientRecord Store::record_announce(const ClientRecord& f, std::int64_t now) try {
  std::lock_guard lock(mu_);
  SQLite::Transaction t(db_);
  SQLite::Statement up(db_,
                       "INSERT INTO clients(mac, ip, uptime_s, cpu, mem_mib, boot_version, first_seen, last_seen, announces)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 1)"
                       " ON CONFLICT(mac) DO UPDATE SET ip=?2, uptime_s=?3, cpu=?4, mem_mib=?5,"
                       " boot_version=?6, last_seen=?7, announces=announces+1");
  SQLite::bind(up, f.mac, f.ip, f.uptime_s, f.cpu, f.mem_mib, f.boot_version, now);
  up.exec();
  // Bounded whatever a lab PC claims: one row per address (the MAC that announced last from it),
  // and at most kMaxClients rows, the least recently seen going first.
  SQLite::Statement same_ip(db_, "DELETE FROM clients WHERE ip = ?1 AND mac != ?2");
  SQLite::bind(same_ip, f.ip, f.mac);
  same_ip.exec();
  SQLite::Statement cap(db_, "DELETE FROM clients WHERE mac IN (SELECT mac FROM clients ORDER BY last_seen DESC, mac"
                             " LIMIT -1 OFFSET ?1)");
  cap.bind(1, static_cast<std::int64_t>(kMaxClients));
  cap.exec();
  SQLite::Statement q(db_, std::string(kClientColumns) + " WHERE mac = ?");
  q.bind(1, f.mac);
  q.executeStep();
  ClientRecord rec = read_client(q);
  t.commit();
  return rec;
} catch (const SQLite::Exception& e) {
  throw_unavailable(e);
}

std::optional<ClientRecord> Store::client(const std::string& mac) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(db_, std::string(kClientColumns) + " WHERE mac = ?");
  q.bind(1, mac);
  if (!q.executeStep()) return std::nullopt;
  return read_client(q);
}

std::vector<ClientRecord> Store::clients() {
  std::lock_guard lock(mu_);
  SQLite::Statement q(db_, std::string(kClientColumns) + " ORDER BY mac");
  std::vector<ClientRecord> out;
  while (q.executeStep()) out.push_back(read_client(q));
  return out;
}

}  // namespace labdesk::boot
