#include "nat/forward_table.hpp"

namespace labdesk::boot {

ForwardTable::ForwardTable(NatSpec spec, Store& store, NftRunner& nft, std::shared_ptr<spdlog::logger> log)
    : spec_(std::move(spec)), store_(store), nft_(nft), log_(std::move(log)) {}

Result<void> ForwardTable::rebuild() {
  std::lock_guard lock(mu_);
  std::vector<Forward> keep;
  for (const auto& f : store_.forwards()) {
    if (auto ok = check_forward(spec_, f); !ok) {
      log_->warn("forward on port '{}' of session '{}' dropped at rebuild: {}", f.port, f.session, ok.error().message);
      store_.delete_forward(f.port);
      continue;
    }
    keep.push_back(f);
  }
  if (auto r = nft_.run(render_ruleset(spec_, keep)); !r) return r;
  current_.clear();
  for (const auto& f : keep) current_[f.port] = f;
  log_->info("nftables table '{}' rebuilt with {} forwards", spec_.table, keep.size());
  return {};
}

Result<void> ForwardTable::replace_all(const std::vector<Forward>& all) {
  std::map<std::uint16_t, Forward> next;
  for (const auto& f : all) {
    if (auto ok = check_forward(spec_, f); !ok) return ok;
    if (!next.emplace(f.port, f).second) return fail("bad_forward", "forward port '" + std::to_string(f.port) + "' given twice");
  }
  std::lock_guard lock(mu_);
  // At start-up the broker's reconciliation usually finds what rebuild() just put in place: then
  // nftables is built once, not twice.
  if (next == current_) {
    log_->info("nftables table '{}' already holds the {} forwards of the running sessions", spec_.table, all.size());
    return {};
  }
  if (auto r = nft_.run(render_ruleset(spec_, all)); !r) return r;
  store_.replace_forwards(all);
  current_ = std::move(next);
  log_->info("nftables table '{}' replaced with {} forwards", spec_.table, all.size());
  return {};
}

Result<void> ForwardTable::check(const Forward& f) const {
  std::lock_guard lock(mu_);
  return check_forward(spec_, f);
}

Result<void> ForwardTable::upsert(const Forward& f) {
  if (auto ok = check_forward(spec_, f); !ok) return ok;
  std::lock_guard lock(mu_);
  std::vector<Forward> before;
  for (const auto& [port, old] : current_) {
    if (port == f.port || old.session == f.session) before.push_back(old);
  }
  for (const auto& old : before) {
    if (old.port != f.port) continue;
    if (old == f) return {};
    if (old.session != f.session) {
      return fail("port_in_use", "forward port '" + std::to_string(f.port) + "' belongs to session '" + old.session +
                                     "', not '" + f.session + "'", 409);
    }
  }
  if (auto r = nft_.run(render_change(spec_, before, {f})); !r) return r;
  store_.put_forward(f);
  for (const auto& old : before) current_.erase(old.port);
  current_[f.port] = f;
  log_->info("forward port '{}' of session '{}': client '{}' -> '{}:{}'", f.port, f.session, f.client_ip, f.target_ip, f.target_port);
  return {};
}

Result<void> ForwardTable::remove(std::uint16_t port) {
  std::lock_guard lock(mu_);
  auto it = current_.find(port);
  if (it == current_.end()) {
    store_.delete_forward(port);
    return {};
  }
  if (auto r = nft_.run(render_change(spec_, {it->second}, {})); !r) return r;
  store_.delete_forward(port);
  log_->info("forward port '{}' of session '{}' removed", port, it->second.session);
  current_.erase(it);
  return {};
}

Result<void> ForwardTable::teardown() {
  std::lock_guard lock(mu_);
  current_.clear();
  return nft_.run(render_teardown(spec_));
}

Result<void> ForwardTable::respec(const NatSpec& spec) {
  {
    std::lock_guard lock(mu_);
    if (spec == spec_) return {};
    if (spec.table != spec_.table) {
      if (auto r = nft_.run(render_teardown(spec_)); !r) return r;
    }
    spec_ = spec;
  }
  return rebuild();
}

std::vector<Forward> ForwardTable::list() const {
  std::lock_guard lock(mu_);
  std::vector<Forward> out;
  for (const auto& [p, f] : current_) out.push_back(f);
  return out;
}

std::optional<Forward> ForwardTable::find(std::uint16_t port) const {
  std::lock_guard lock(mu_);
  auto it = current_.find(port);
  if (it == current_.end()) return std::nullopt;
  return it->second;
}

}  // namespace labdesk::boot
