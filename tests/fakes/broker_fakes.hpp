// In-memory stand-ins for the broker's ports: agents that keep desktops in a map and enforce
// their host's capacity, a forward table, a VNC probe and a clock the test moves by hand.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "labdesk/broker/ports.hpp"

namespace labdesk::fakes {

// Whose data disks are open in a VM. Each fake host has its own; fake hosts given one stand for
// hosts that mount one shared data area, where QEMU's image lock spans them all.
struct FakeDataArea {
  std::mutex mu;
  std::set<std::string> open;  // users
  bool take(const std::string& user) {
    std::lock_guard lock(mu);
    return open.insert(user).second;
  }
  void let_go(const std::string& user) {
    std::lock_guard lock(mu);
    open.erase(user);
  }
};

class FakeAgent final : public broker::AgentPort {
 public:
  FakeAgent(std::string host, std::int64_t capacity) : host_(std::move(host)), capacity_(capacity) {}

  Result<api::agent::LoadReport> load() override {
    std::lock_guard lock(mu_);
    if (down) return fail("unreachable", "agent '" + host_ + "' does not answer", 503);
    if (slow_loads > 0) {
      --slow_loads;
      return fail("timeout", "agent '" + host_ + "' did not answer in time", 504);
    }
    api::agent::LoadReport r;
    r.host = host_;
    r.cpu_pct = cpu_pct;
    r.accel = accel;
    r.committed_mib = committed_locked();
    return r;
  }
  Result<std::vector<api::agent::Desktop>> list() override {
    std::lock_guard lock(mu_);
    if (down) return fail("unreachable", "agent '" + host_ + "' does not answer", 503);
    std::vector<api::agent::Desktop> out;
    for (auto& [n, d] : desktops) {
      if (!d.ready && --booting_[n] <= 0) d.ready = true;
      out.push_back(d);
      out.back().vnc.password.clear();  // as the real agent: a password only where it is set
    }
    return out;
  }
  Result<api::agent::Desktop> create(const api::agent::CreateDesktop& spec) override {
    if (on_create) on_create(spec.user);  // outside the lock: a test may hold a create here
    std::lock_guard lock(mu_);
    if (down) return fail("unreachable", "agent '" + host_ + "' does not answer", 503);
    // As the real agent: on a host, one desktop of a user holds the data disk and one more may
    // wait for it (a handoff's replacement).
    for (const auto& [name, other] : desktops) {
      if (other.user == spec.user && (!spec.data_later || !other.data_attached)) {
        return fail("user_busy", "user '" + spec.user + "' already has desktop '" + name + "'", 409);
      }
    }
    if (committed_locked() + spec.memory_mib > capacity_) {
      return fail("no_capacity", "host '" + host_ + "' has no room for " + std::to_string(spec.memory_mib) + " MiB", 409);
    }
    if (!spec.data_later) {
      // As QEMU's lock: the disk is open in a VM on another host sharing the data area.
      if (!data_area->take(spec.user)) return fail("data_in_use", "the data disk of '" + spec.user + "' is open in another desktop", 409);
      data_users.insert(spec.user);  // the real agent makes the data disk on first use
    }
    api::agent::Desktop d;
    d.name = "ld-" + spec.user + "-" + std::to_string(++created);
    d.user = spec.user;
    d.session = spec.session;
    d.image = spec.image;
    d.tier = spec.tier;
    d.state = "running";
    d.memory_mib = spec.memory_mib;
    d.max_memory_mib = spec.max_memory_mib ? spec.max_memory_mib : spec.memory_mib;
    d.vnc = {"10.1.0." + host_, 5900 + created, "pw" + std::to_string(created)};
    d.data_attached = !spec.data_later;
    d.ready = boot_lists == 0;
    if (!d.ready) booting_[d.name] = boot_lists;
    desktops[d.name] = d;
    push_event_locked("started", d, "");
    return d;
  }
  Result<void> destroy(const std::string& name) override {
    if (on_destroy) on_destroy(name);
    std::lock_guard lock(mu_);
    if (down) return fail("unreachable", "agent '" + host_ + "' does not answer", 503);
    auto it = desktops.find(name);
    if (it == desktops.end()) return fail("not_found", "no desktop '" + name + "'", 404);
    push_event_locked("stopped", it->second, "destroyed through the API");
    if (it->second.data_attached) data_area->let_go(it->second.user);
    desktops.erase(it);
    ++destroyed;
    return {};
  }
  Result<api::agent::Desktop> attach_data(const std::string& name) override {
    std::lock_guard lock(mu_);
    if (down) return fail("unreachable", "agent '" + host_ + "' does not answer", 503);
    auto it = desktops.find(name);
    if (it == desktops.end()) return fail("not_found", "no desktop '" + name + "'", 404);
    auto& d = it->second;
    if (!d.data_attached) {
      if (!data_area->take(d.user)) return fail("data_in_use", "the data disk of '" + d.user + "' is still open in another desktop", 409);
      d.data_attached = true;
      data_users.insert(d.user);
      push_event_locked("data_attached", d, "");
    }
    auto out = d;
    out.vnc.password.clear();
    return out;
  }
  Result<api::agent::MemoryReport> resize(const std::string& name, std::int64_t mib) override {
    std::lock_guard lock(mu_);
    auto it = desktops.find(name);
    if (it == desktops.end()) return fail("not_found", "no desktop '" + name + "'", 404);
    if (mib < 128 || mib > it->second.max_memory_mib) {
      return fail("bad_memory", "memory_mib " + std::to_string(mib) + " for '" + name + "' outside 128.." +
                                    std::to_string(it->second.max_memory_mib), 400);
    }
    it->second.memory_mib = mib;
    push_event_locked("resized", it->second, "memory_mib=" + std::to_string(mib));
    return api::agent::MemoryReport{mib, mib};
  }

  Result<api::agent::Vnc> console_password(const std::string& name, std::chrono::seconds valid_for) override {
    std::lock_guard lock(mu_);
    if (down) return fail("unreachable", "agent '" + host_ + "' does not answer", 503);
    auto it = desktops.find(name);
    if (it == desktops.end()) return fail("not_found", "no desktop '" + name + "'", 404);
    // As the real agent: a new password each time (the old one opens nothing new).
    it->second.vnc.password = "cp" + std::to_string(++console_passwords);
    last_valid_for = valid_for;
    return it->second.vnc;
  }

  // As the real agent: refused while a desktop of the user is here; a disk "exists" once the
  // user had a desktop here (data_users), and retiring takes it away.
  Result<api::agent::RetiredData> retire_data(const std::string& user, const std::string& mode) override {
    std::lock_guard lock(mu_);
    if (down) return fail("unreachable", "agent '" + host_ + "' does not answer", 503);
    if (mode != "archive" && mode != "delete") return fail("bad_request", "mode '" + mode + "' must be archive or delete", 400);
    for (const auto& [n, d] : desktops) {
      if (d.user == user) return fail("in_use", "user '" + user + "' still has desktop '" + n + "' here", 409);
    }
    const bool found = data_users.erase(user) > 0;
    retired.push_back(user + ":" + mode);
    return api::agent::RetiredData{user, mode, found, found && mode == "archive" ? "retired/" + user + ".qcow2" : ""};
  }

  Result<api::agent::EventBatch> events(std::uint64_t after, std::chrono::seconds) override {
    std::lock_guard lock(mu_);
    api::agent::EventBatch b;
    for (const auto& e : agent_events) {
      if (e.seq > after) b.events.push_back(e);
    }
    b.next = agent_events.empty() ? after : std::max(after, agent_events.back().seq);
    return b;
  }

  // Live migration between the fakes of one test (`peers`, by host name), as the real agents do
  // it: the destination must have been prepared, the desktop keeps its name and data disk, gets
  // a new VNC port there and a fresh password when the destination finishes.
  Result<api::agent::MigrationTarget> prepare_incoming(const api::agent::IncomingMigration& in) override {
    std::lock_guard lock(mu_);
    if (down) return fail("unreachable", "agent '" + host_ + "' does not answer", 503);
    if (!peers) return fail("migration_off", "host '" + host_ + "' takes no desktops while they run", 409);
    if (desktops.contains(in.desktop) || !incoming_.insert(in.desktop).second) {
      return fail("in_use", "desktop '" + in.desktop + "' is already here", 409);
    }
    return api::agent::MigrationTarget{host_, "fake+tcp://" + host_ + "/system", "tcp://" + host_, "10.1.0." + host_,
                                       "/overlays/" + in.desktop + ".qcow2", "", "", "", "", accel};
  }
  Result<api::agent::MigrationReport> migrate(const std::string& name, const api::agent::MigrationTarget& to) override {
    FakeAgent* dest = nullptr;
    api::agent::Desktop d;
    {
      std::lock_guard lock(mu_);
      if (down) return fail("unreachable", "agent '" + host_ + "' does not answer", 503);
      auto it = desktops.find(name);
      if (it == desktops.end()) return fail("not_found", "no running desktop '" + name + "'", 404);
      if (fail_migrations) return fail("migration_failed", "libvirt could not migrate '" + name + "': it keeps running here", 502);
      if (!peers || !peers->contains(to.host)) return fail("migration_failed", "no libvirtd at '" + to.peer_uri + "'", 502);
      if (to.accel != accel) return fail("accel_mismatch", "desktop '" + name + "' runs with '" + accel + "', host '" + to.host + "' with '" + to.accel + "'", 409);
      dest = peers->at(to.host);
      d = it->second;
      push_event_locked("migrated", d, "migrated");
      desktops.erase(it);
      ++migrated_out;
    }
    dest->receive(d);
    if (on_migrated) on_migrated();  // the guest runs there; the real source still stops its QEMU
    return api::agent::MigrationReport{name, to.host, 5};
  }
  Result<api::agent::Arrival> finish_incoming(const std::string& name, std::chrono::milliseconds wait = {}) override {
    std::unique_lock lock(mu_);
    if (down) return fail("unreachable", "agent '" + host_ + "' does not answer", 503);
    if (!incoming_.contains(name)) {
      if (arrived_.contains(name) && desktops.contains(name)) {  // asked again: the figures, no password
        auto d = desktops.at(name);
        d.vnc.password.clear();
        return api::agent::Arrival{d, 42, 1500, 1 << 20, 1 << 16};
      }
      return fail("not_found", "no desktop '" + name + "' is expected here", 404);
    }
    if (wait.count() > 0 && !desktops.contains(name)) {
      arrived_cv_.wait_for(lock, wait, [&] { return desktops.contains(name); });
      if (!desktops.contains(name)) return fail("not_arrived", "desktop '" + name + "' does not run here yet: ask again", 409);
    }
    incoming_.erase(name);
    auto it = desktops.find(name);
    if (it == desktops.end()) return fail("migration_failed", "desktop '" + name + "' did not arrive on host '" + host_ + "'", 409);
    it->second.vnc.password = "mp" + std::to_string(++console_passwords);
    push_event_locked("arrived", it->second, "live migration");
    arrived_.insert(name);
    return api::agent::Arrival{it->second, 42, 1500, 1 << 20, 1 << 16};
  }

  // Simulates the agent restarting a crashed desktop: new VNC port and password, same name.
  void restart(const std::string& name) {
    std::lock_guard lock(mu_);
    auto& d = desktops.at(name);
    d.vnc.port += 100;
    d.vnc.password = "re" + d.vnc.password;
    ++d.restarts;
    push_event_locked("restarted", d, "qemu died");
  }

  std::int64_t committed() const {
    std::lock_guard lock(mu_);
    return committed_locked();
  }

  std::map<std::string, api::agent::Desktop> desktops;
  std::vector<api::agent::Event> agent_events;
  std::function<void(const std::string& user)> on_create;
  std::function<void(const std::string& desktop)> on_destroy;
  bool down = false;
  int slow_loads = 0;  // the next load() calls time out (a busy agent, not a dead one)
  // The fakes a desktop may migrate to, by host name (shared by one test's fakes); null: none.
  std::shared_ptr<std::map<std::string, FakeAgent*>> peers;
  bool fail_migrations = false;
  std::function<void()> on_migrated;  // between the guest running on the destination and migrate() returning
  int migrated_out = 0;
  // > 0: a new desktop's guest has drawn its desktop only after this many list() calls.
  int boot_lists = 0;
  double cpu_pct = 0;
  std::string accel = "tcg";  // what the real agent resolved [desktops] accel to
  int created = 0;
  int destroyed = 0;
  int console_passwords = 0;
  std::set<std::string> data_users;   // users with a data disk on this fake host
  std::shared_ptr<FakeDataArea> data_area = std::make_shared<FakeDataArea>();
  std::vector<std::string> retired;   // "user:mode" per retire_data call
  std::chrono::seconds last_valid_for{0};

 private:
  // The desktop arrives by migration (called by the source fake, outside its lock).
  void receive(api::agent::Desktop d) {
    std::lock_guard lock(mu_);
    if (!incoming_.contains(d.name)) return;  // not prepared: the real migration fails first
    d.vnc = {"10.1.0." + host_, 5900 + ++created, ""};
    desktops[d.name] = d;
    arrived_cv_.notify_all();
  }
  std::set<std::string> incoming_;  // prepared for these desktops
  std::set<std::string> arrived_;   // taken on by live migration
  std::condition_variable arrived_cv_;
  // As the real agent: a restart's event carries the new console endpoint and password.
  void push_event_locked(std::string type, const api::agent::Desktop& d, std::string detail) {
    api::agent::Event e{++event_seq_, std::move(type), d.name, d.user, d.session, std::move(detail), {}};
    if (e.type == "started") e.vnc = {d.vnc.host, d.vnc.port, ""};
    if (e.type == "restarted") e.vnc = d.vnc;
    agent_events.push_back(std::move(e));
    if (agent_events.size() > 1024) agent_events.erase(agent_events.begin(), agent_events.begin() + 256);
  }
  std::int64_t committed_locked() const {
    std::int64_t sum = 0;
    for (const auto& [n, d] : desktops) sum += d.memory_mib;
    return sum;
  }
  mutable std::mutex mu_;
  std::map<std::string, int> booting_;  // desktop → list() calls until its guest is drawn
  std::uint64_t event_seq_ = 0;
  std::string host_;
  std::int64_t capacity_;
};

// The broker calls it from several threads at once (arrivals run beside each other); tests read
// `table` only while no call is running.
class FakeForwards final : public broker::ForwardPort {
 public:
  Result<void> upsert(const broker::Forward& f) override {
    std::lock_guard lock(mu_);
    table[f.lab_port] = f;
    ++changes;
    return {};
  }
  Result<void> remove(int port) override {
    std::lock_guard lock(mu_);
    table.erase(port);
    return {};
  }
  Result<void> rebuild(const std::vector<broker::Forward>& all) override {
    std::lock_guard lock(mu_);
    table.clear();
    for (const auto& f : all) table[f.lab_port] = f;
    ++rebuilds;
    return {};
  }
  std::map<int, broker::Forward> table;
  int changes = 0;
  int rebuilds = 0;

 private:
  std::mutex mu_;
};

class FakeProbe final : public broker::VncProbe {
 public:
  bool wait_ready(const std::string&, int, std::chrono::milliseconds) override { return ready; }
  bool ready = true;
};

class ManualClock final : public broker::Clock {
 public:
  std::chrono::steady_clock::time_point now() const override { return t; }
  void advance(std::chrono::seconds s) { t += s; }
  std::chrono::steady_clock::time_point t{std::chrono::hours(1)};
};

}  // namespace labdesk::fakes
