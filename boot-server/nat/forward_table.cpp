#include "nat/forward_table.hpp"

namespace labdesk::boot {

ForwardTable::ForwardTable(NatSpec spec, NftRunner& nft, std::shared_ptr<spdlog::logger> log)
    : spec_(std::move(spec)), nft_(nft), log_(std::move(log)) {}

Result<void> ForwardTable::rebuild(const std::vector<Forward>& all) {
  std::lock_guard lock(mu_);
  return rebuild_locked(all);
}

Result<void> ForwardTable::rebuild_locked(const std::vector<Forward>& all) {
  std::map<int, Forward> next;
  std::string left_out;
  std::size_t bad = 0;
  for (const auto& f : all) {
    auto ok = check_forward(spec_, f);
    if (ok && next.contains(f.lab_port)) ok = fail("bad_forward", "forward port '" + std::to_string(f.lab_port) + "' given twice");
    if (!ok) {
      log_->warn("forward on port '{}' for client '{}' left out of the table: {}", f.lab_port, f.client_ip, ok.error().message);
      if (bad++ == 0) left_out = ok.error().message;
      continue;
    }
    next.emplace(f.lab_port, f);
  }
  if (!spec_.enabled) {
    current_ = std::move(next);
  } else if (applied_ && next == current_) {
    log_->info("nftables table '{}' already holds the {} forwards", spec_.table, next.size());
  } else {
    std::vector<Forward> usable;
    for (const auto& [port, f] : next) usable.push_back(f);
    if (auto r = nft_.run(render_ruleset(spec_, usable)); !r) {
      log_->error("nftables refused table '{}': {}", spec_.table, r.error().message);
      return r;
    }
    current_ = std::move(next);
    applied_ = true;
    log_->info("nftables table '{}' built with {} forwards", spec_.table, current_.size());
  }
  if (bad > 0) {
    return fail("bad_forward", std::to_string(bad) + " forward(s) left out of the table, the first: " + left_out);
  }
  return {};
}

Result<void> ForwardTable::upsert(const Forward& f) {
  std::lock_guard lock(mu_);
  if (auto ok = check_forward(spec_, f); !ok) return ok;
  std::vector<Forward> before;
  if (auto it = current_.find(f.lab_port); it != current_.end()) {
    if (it->second == f) return {};
    before.push_back(it->second);
  }
  if (spec_.enabled) {
    if (auto r = nft_.run(render_change(spec_, before, {f})); !r) return r;
  }
  current_[f.lab_port] = f;
  log_->info("forward port '{}': client '{}' -> '{}:{}'", f.lab_port, f.client_ip, f.vnc_host, f.vnc_port);
  return {};
}

Result<void> ForwardTable::remove(int lab_port) {
  std::lock_guard lock(mu_);
  auto it = current_.find(lab_port);
  if (it == current_.end()) return {};
  if (spec_.enabled) {
    if (auto r = nft_.run(render_change(spec_, {it->second}, {})); !r) return r;
  }
  log_->info("forward port '{}' of client '{}' removed", lab_port, it->second.client_ip);
  current_.erase(it);
  return {};
}

Result<void> ForwardTable::teardown() {
  std::lock_guard lock(mu_);
  applied_ = false;
  return nft_.run(render_teardown(spec_));
}

Result<void> ForwardTable::respec(const NatSpec& spec) {
  std::lock_guard lock(mu_);
  if (spec == spec_) return {};
  if (spec_.enabled && (!spec.enabled || spec.table != spec_.table)) {
    if (auto r = nft_.run(render_teardown(spec_)); !r) return r;
  }
  spec_ = spec;
  std::vector<Forward> all;
  for (const auto& [port, f] : current_) all.push_back(f);
  applied_ = false;  // the table's rules changed with the spec: render it whole
  return rebuild_locked(all);
}

bool ForwardTable::applied() const {
  std::lock_guard lock(mu_);
  return applied_;
}

std::vector<Forward> ForwardTable::list() const {
  std::lock_guard lock(mu_);
  std::vector<Forward> out;
  for (const auto& [p, f] : current_) out.push_back(f);
  return out;
}

std::optional<Forward> ForwardTable::find(int lab_port) const {
  std::lock_guard lock(mu_);
  auto it = current_.find(lab_port);
  if (it == current_.end()) return std::nullopt;
  return it->second;
}

}  // namespace labdesk::boot
