// The broker's handle on desktop forwards: the store holds the intent, nftables the effect.
// rebuild() makes nftables match the store (at start, so no stale forward survives a crash);
// upsert()/remove() change one forward in one nft transaction, then record it.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <spdlog/logger.h>

#include "nat/nft.hpp"
#include "nat/ruleset.hpp"
#include "store/store.hpp"

namespace labdesk::boot {

class ForwardTable {
 public:
  ForwardTable(NatSpec spec, Store& store, NftRunner& nft, std::shared_ptr<spdlog::logger> log);

  // Replaces labdesk's table with one built from the store's forwards, atomically. Forwards
  // that no longer fit the spec (e.g. the port range shrank) are dropped from the store.
  Result<void> rebuild();
  // Replaces every forward at once (the broker's reconciliation): store and nftables together;
  // nothing changes if one of them is invalid or nftables refuses.
  Result<void> replace_all(const std::vector<Forward>& all);
  // Adds or changes the forward on f.port (also moving the session off any other port).
  // A handoff changes target_ip/target_port; a roam changes client_ip. Atomic in nftables.
  Result<void> upsert(const Forward& f);
  // Removes the forward on `port` (the session ended); no-op if there is none.
  Result<void> remove(std::uint16_t port);
  // Deletes labdesk's table (failed start); the store keeps the forwards.
  Result<void> teardown();
  // New spec (config reload): rebuilds when it changed.
  Result<void> respec(const NatSpec& spec);

  // Whether f fits the current spec (what upsert and replace_all check first).
  Result<void> check(const Forward& f) const;
  [[nodiscard]] std::vector<Forward> list() const;
  [[nodiscard]] std::optional<Forward> find(std::uint16_t port) const;

 private:
  mutable std::mutex mu_;
  NatSpec spec_;
  Store& store_;
  NftRunner& nft_;
  std::shared_ptr<spdlog::logger> log_;
  std::map<std::uint16_t, Forward> current_;
};

}  // namespace labdesk::boot
