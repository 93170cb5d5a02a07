// Private: the planner's scratch view of a cluster while it builds a plan. Tracks memory committed
// per host (including a handoff's transient VM) and each touched user's new placement, without
// copying the user list.
#pragma once

#include <limits>
#include <optional>
#include <unordered_map>
#include <vector>

#include "labdesk/allocator/model.hpp"

namespace labdesk::alloc::detail {

class Sim {
 public:
  Sim(const Cluster& c, const Policy& p);

  [[nodiscard]] Mib free(HostIndex h) const { return c_.hosts[h].usable() - used_[h]; }
  [[nodiscard]] std::size_t hosts() const { return used_.size(); }
  [[nodiscard]] HostIndex host_of(std::size_t user) const;
  [[nodiscard]] Mib mib_of(std::size_t user) const;
  [[nodiscard]] const std::vector<Step>& steps() const { return steps_; }
  [[nodiscard]] std::vector<Step> take_steps() { return std::move(steps_); }

  // Lower is better; memory utilization is this plan's own, CPU and network are the caller's.
  [[nodiscard]] double score(HostIndex h) const;

  // The best-scoring host with `mib` free (optionally not `except`), preferring hosts after
  // which some host still has `reserve` free.
  [[nodiscard]] std::optional<HostIndex> best_host(Mib mib, Mib reserve = 0,
                                                   std::optional<HostIndex> except = {}) const;
  // Whether placing `mib` somewhere leaves a host with `reserve` free.
  [[nodiscard]] bool fits_keeping(Mib mib, Mib reserve) const;

  // Steps, applied to the scratch state as they are recorded.
  void start(const std::string& user, HostIndex h, Mib mib, Mib max_mib);
  void switch_to(const std::string& user, HostIndex h, Mib mib);
  void destroy(const std::string& user, HostIndex h, Mib mib);
  void resize(std::size_t user, Mib mib);

  // Moves a connected user to a new size and/or host by hard handoff (make-before-break when
  // `to` has room beside the old VM, else destroy first). Returns false if no host can take it.
  bool handoff(std::size_t user, Mib mib, Mib reserve = 0);
  bool handoff_to(std::size_t user, HostIndex to, Mib mib);

  // Opens a hole of `mib` on one host by moving a few VMs elsewhere at their own size.
  bool defragment(Mib mib);

  struct Mark {
    std::vector<Mib> used;
    std::unordered_map<std::size_t, std::pair<HostIndex, Mib>> moved;
    std::size_t steps;
  };
  [[nodiscard]] Mark mark() const { return {used_, moved_, steps_.size()}; }
  void rollback(Mark m);

 private:
  const Cluster& c_;
  const Policy& p_;
  std::vector<Mib> used_;
  std::unordered_map<std::size_t, std::pair<HostIndex, Mib>> moved_;
  std::vector<Step> steps_;
};

}  // namespace labdesk::alloc::detail
