// The broker's ForwardPort (broker/ports.hpp) over the nftables ForwardTable: what the broker
// calls on a session start, handoff, roam, end, and at start-up reconciliation.
#pragma once

#include "labdesk/broker/ports.hpp"
#include "nat/forward_table.hpp"

namespace labdesk::boot {

class BrokerForwards final : public broker::ForwardPort {
 public:
  explicit BrokerForwards(ForwardTable& table) : table_(table) {}
  Result<void> upsert(const broker::Forward& f) override;
  Result<void> remove(int lab_port) override;
  Result<void> rebuild(const std::vector<broker::Forward>& all) override;

  // The broker's forward as the table's (one session id per lab port).
  static Result<Forward> convert(const broker::Forward& f);

 private:
  ForwardTable& table_;
};

}  // namespace labdesk::boot
