// The broker's ForwardPort (broker/ports.hpp) over nftables. The broker's sessions own their
// forwards (SQLite, store/broker_store); this table holds what nftables was last given, so it is
// rebuilt once at start-up, by the broker's reconciliation, and otherwise changed one forward at
// a time, each change one nft transaction. With nat.enabled = false it keeps the forwards and
// gives nftables nothing.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <spdlog/logger.h>

#include "labdesk/broker/ports.hpp"
#include "nat/nft.hpp"
#include "nat/ruleset.hpp"

namespace labdesk::boot {

class ForwardTable final : public broker::ForwardPort {
 public:
  ForwardTable(NatSpec spec, NftRunner& nft, std::shared_ptr<spdlog::logger> log);

  // Replaces labdesk's table with one holding `all`, atomically. A forward that does not fit the
  // spec (a desktop without a VNC address, a client outside a changed lab subnet) is left out and
  // named in the error, so that one bad forward never keeps the others stale. Skips nftables
  // when it already holds exactly these forwards.
  Result<void> rebuild(const std::vector<Forward>& all) override;
  // Adds or changes the forward on f.lab_port: a handoff changes vnc_host/vnc_port, a roam
  // client_ip. Atomic in nftables.
  Result<void> upsert(const Forward& f) override;
  // Removes the forward on `lab_port` (the session ended); no-op if there is none.
  Result<void> remove(int lab_port) override;
  // Deletes labdesk's table (a failed start); the forwards are kept for a later rebuild.
  Result<void> teardown();
  // New spec (config reload): rebuilds with the forwards in place when it changed, removes the
  // table when nat was turned off; forwards that no longer fit are left out and named.
  Result<void> respec(const NatSpec& spec);

  // Whether this process has put its table in place (a failed start removes only its own).
  [[nodiscard]] bool applied() const;
  [[nodiscard]] std::vector<Forward> list() const;
  [[nodiscard]] std::optional<Forward> find(int lab_port) const;

 private:
  Result<void> rebuild_locked(const std::vector<Forward>& all);
  mutable std::mutex mu_;
  NatSpec spec_;
  NftRunner& nft_;
  std::shared_ptr<spdlog::logger> log_;
  std::map<int, Forward> current_;
  bool applied_ = false;
};

}  // namespace labdesk::boot
