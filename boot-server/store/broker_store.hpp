// The broker's tables in the boot-server's SQLite store: users, sessions and data leases. Migrations 100+
// (1..99 are the network plane's).
#pragma once

#include <span>

#include "labdesk/broker/auth.hpp"
#include "labdesk/broker/session.hpp"
#include "store/store.hpp"

namespace labdesk::boot {

std::span<const Migration> broker_migrations();

class SqliteSessionStore final : public broker::SessionStore {
 public:
  explicit SqliteSessionStore(Store& store) : store_(store) {}
  void save(const broker::Session& s) override;
  void remove(const std::string& id) override;
  std::vector<broker::Session> load_all() override;
  bool claim_data(const broker::DataLease& holder) override;
  void release_data(const broker::DataLease& holder) override;
  std::optional<broker::DataLease> data_lease(const std::string& disk) override;
  std::vector<broker::DataLease> data_leases() override;
  void set_drained(const std::string& host, bool drained) override;
  std::set<std::string> drained_hosts() override;

 private:
  Store& store_;
};

class SqliteUserStore final : public broker::UserStore {
 public:
  explicit SqliteUserStore(Store& store) : store_(store) {}
  std::optional<broker::User> find(const std::string& name) override;
  std::vector<broker::User> all() override;
  void put(const broker::User& u) override;
  bool remove(const std::string& name) override;

 private:
  Store& store_;
};

}  // namespace labdesk::boot
