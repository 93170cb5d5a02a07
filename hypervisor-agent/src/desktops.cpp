#include "labdesk/agent/desktops.hpp"

#include <chrono>
#include <set>
#include <thread>

#include "labdesk/agent/names.hpp"
#include "labdesk/agent/png.hpp"
#include "labdesk/common/file.hpp"

namespace labdesk::agent {

namespace aa = api::agent;

namespace {
constexpr std::int64_t kMinMemoryMib = 64;
}

DomainSpec make_spec(const AgentConfig& cfg, const ImageConfig& image, const std::string& name,
                     const DesktopMeta& meta, std::int64_t memory_mib, const std::string& password,
                     const std::string& valid_to, const Storage& storage) {
  DomainSpec s;
  s.name = name;
  s.meta = meta;
  s.memory_mib = memory_mib;
  s.max_memory_mib = meta.max_memory_mib;
  s.vcpus = cfg.vcpus;
  s.accel = cfg.accel;
  s.network = cfg.network;
  s.base = image.base;
  s.kernel = image.kernel;
  s.initrd = image.initrd;
  if (!image.kernel.empty()) {
    s.cmdline = image.cmdline;
    if (!s.cmdline.empty()) s.cmdline += ' ';
    s.cmdline += "labdesk.user=" + meta.user + " labdesk.session=" + meta.session;
    // The guest then waits for the disk to be plugged in instead of warning that it is missing.
    if (meta.data_disk.empty()) s.cmdline += " labdesk.data=later";
  }
  s.vnc_listen = cfg.vnc_listen;
  s.vnc_password = password;
  s.vnc_password_valid_to = valid_to;
  s.console_socket = storage.console_socket(name);
  s.console_log = storage.console_log(name);
  return s;
}

Desktops::Desktops(std::shared_ptr<const AgentConfig> cfg, Libvirt& libvirt, Storage& storage, EventLog& events,
                   std::shared_ptr<spdlog::logger> log)
    : cfg_(std::move(cfg)), libvirt_(libvirt), storage_(storage), events_(events), log_(std::move(log)),
      rng_(std::random_device{}()) {
  worker_ = std::thread([this] { work(); });
}

Desktops::~Desktops() { stop(); }

void Desktops::stop() {
  {
    std::lock_guard l(work_mutex_);
    stopping_ = true;
    work_cv_.notify_all();
  }
  if (worker_.joinable()) worker_.join();
}

void Desktops::set_config(std::shared_ptr<const AgentConfig> cfg) {
  std::lock_guard l(cfg_mutex_);
  cfg_ = std::move(cfg);
}

std::shared_ptr<const AgentConfig> Desktops::config() const {
  std::lock_guard l(cfg_mutex_);
  return cfg_;
}

std::string Desktops::random_password() {
  static constexpr std::string_view kAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::random_device rd;  // the kernel's CSPRNG: a console password must not be predictable
  std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
  std::string pw;
  for (int i = 0; i < 8; ++i) pw += kAlphabet[pick(rd)];
  return pw;
}

std::string Desktops::random_id() {
  std::lock_guard l(mutex_);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 6; ++i) id += kHex[rng_() % 16];
  return id;
}

aa::Event Desktops::event(std::string type, const std::string& name, const DesktopMeta& m, std::string detail) {
  aa::Event e;
  e.type = std::move(type);
  e.desktop = name;
  e.user = m.user;
  e.session = m.session;
  e.detail = std::move(detail);
  return e;
}

Result<void> Desktops::network_ready(const AgentConfig& cfg) {
  const NetworkSpec& net = cfg.network;
  if (net.mode != "nat") return {};  // a bridge is the admin's; libvirt names a missing one at start
  auto made = libvirt_.ensure_network(net.name, render_network_xml(net));
  if (!made) return std::unexpected(made.error());
  if (*made) log_->info("desktops' network '{}' runs: NAT on bridge '{}', subnet '{}'", net.name, net.bridge, net.subnet);
  return {};
}

Result<int> Desktops::start_domain(const std::string& name, const DesktopMeta& meta, std::int64_t memory_mib,
                                   const std::string& password) {
  auto cfg = config();
  const ImageConfig* image = cfg->image(meta.image);
  if (!image) {
    return fail("unknown_image", "image '" + meta.image + "' is not in this host's catalog: GET /v1/images lists them", 400);
  }
  if (auto r = network_ready(*cfg); !r) return std::unexpected(r.error());
  auto overlay = storage_.create_overlay(name, image->base);
  if (!overlay) return std::unexpected(overlay.error());
  DomainSpec spec = make_spec(*cfg, *image, name, meta, memory_mib, password, password_valid_to(*cfg), storage_);
  if (auto r = libvirt_.create(render_domain_xml(spec)); !r) {
    storage_.remove_overlay(name);
    return std::unexpected(r.error());
  }
  on_lifecycle(LifecycleEvent{"", "spare", image->base});  // the next start takes a ready overlay
  auto info = libvirt_.get(name);
  return info ? info->vnc_port : 0;
}

Result<aa::Desktop> Desktops::create(const aa::CreateDesktop& req) {
  auto cfg = config();
  if (auto r = check_user(req.user); !r) return std::unexpected(r.error());
  if (auto r = check_session(req.session); !r) return std::unexpected(r.error());
  if (!cfg->image(req.image)) {
    return fail("unknown_image", "image '" + req.image + "' is not in this host's catalog: GET /v1/images lists them", 400);
  }
  const std::int64_t mem = req.memory_mib;
  const std::int64_t max = req.max_memory_mib == 0 ? mem : req.max_memory_mib;
  if (mem < kMinMemoryMib) {
    return fail("bad_memory", "memory_mib " + std::to_string(mem) + " is below the minimum of " + std::to_string(kMinMemoryMib), 400);
  }
  if (max < mem) {
    return fail("bad_memory", "max_memory_mib " + std::to_string(max) + " is below memory_mib " + std::to_string(mem), 400);
  }
  if (max > cfg->capacity_mib) {
    return fail("above_capacity", "memory " + std::to_string(max) + " MiB is above this host's capacity of " +
                                      std::to_string(cfg->capacity_mib) + " MiB", 400);
  }
  if (!libvirt_.connected()) {
    return fail("libvirt_unavailable", "libvirt '" + libvirt_.uri() + "' is not connected: the agent is reconnecting, retry shortly", 503);
  }
  const std::string name = "ld-" + req.user + "-" + random_id();
  DesktopMeta meta{req.user, req.session, req.image, req.tier, "", storage_.overlay_path(name), max, 0, mem};
  {
    std::lock_guard l(mutex_);
    std::int64_t committed = 0;
    for (const auto& [n, e] : cache_) {
      // At most one desktop of a user holds their data disk here, and at most one waits for it
      // (the replacement in a handoff).
      if (e.meta.user == req.user && (!req.data_later || e.meta.data_disk.empty())) {
        return fail("user_busy", "user '" + req.user + "' already has desktop '" + n + "' on this host" +
                                     (req.data_later ? " waiting for its data disk" : " (its data disk is in use)") +
                                     ": destroy it first", 409);
      }
      committed += e.memory_mib;
    }
    if (committed + mem > cfg->capacity_mib) {
      return fail("no_capacity", "no capacity: " + std::to_string(mem) + " MiB requested, " +
                                     std::to_string(cfg->capacity_mib - committed) + " MiB of " +
                                     std::to_string(cfg->capacity_mib) + " MiB free", 409);
    }
    cache_[name] = Entry{meta, mem, true};
  }
  auto abandon = [&](const Error& e) -> Result<aa::Desktop> {
    std::lock_guard l(mutex_);
    cache_.erase(name);
    return std::unexpected(e);
  };
  if (!req.data_later) {
    auto disk = storage_.ensure_data_disk(req.user);
    if (!disk) return abandon(disk.error());
    meta.data_disk = *disk;
    std::lock_guard l(mutex_);
    cache_[name].meta.data_disk = *disk;
  }
  const std::string password = random_password();
  auto port = start_domain(name, meta, mem, password);
  if (!port) return abandon(port.error());
  {
    std::lock_guard l(mutex_);
    cache_[name].pending = false;
  }
  log_->info("started desktop '{}' for user '{}' session '{}' image '{}' with {} MiB (max {} MiB){}", name,
             req.user, req.session, req.image, mem, max, req.data_later ? ", its data disk to follow" : "");
  auto started = event("started", name, meta, "");
  started.vnc = aa::Vnc{cfg->vnc_listen, *port, ""};
  events_.push(std::move(started));
  aa::Desktop d{name, req.user, req.session, req.image, req.tier, "running", mem, max,
                aa::Vnc{cfg->vnc_listen, *port, password}, 0, !req.data_later, guest_ready(name, meta)};
  return d;
}

// A clean stop first: the guest syncs and unmounts the user's data disk, so nothing written in
// the last seconds before a logout or a handoff is lost. A guest that does not stop in time (or
// ignores ACPI) is destroyed; its data disk then relies on the filesystem's journal.
void Desktops::stop_cleanly(const std::string& name, std::chrono::seconds limit) {
  if (limit.count() <= 0) return;
  if (auto r = libvirt_.shutdown(name); !r) {
    log_->warn("desktop '{}': clean shutdown not possible ({}); destroying it", name, r.error().message);
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto up = libvirt_.running(name);
    if (!up || !*up) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log_->warn("desktop '{}' did not shut down within {} s; destroying it", name, limit.count());
}

Result<void> Desktops::destroy(const std::string& name, bool force) {
  if (!is_desktop_name(name)) return fail("bad_name", "'" + name + "' is not a desktop name (ld-<user>-<id>)", 400);
  DesktopMeta meta;
  {
    std::lock_guard l(mutex_);
    auto it = cache_.find(name);
    if (it == cache_.end()) return fail("not_found", "no desktop '" + name + "' on this host", 404);
    if (it->second.pending) {
      return fail("busy", "desktop '" + name + "' is still " + (it->second.stopping ? "stopping" : "starting") + ": retry shortly", 409);
    }
    meta = it->second.meta;
    // Kept while it stops (the user's data disk and the memory stay taken), and pending so the
    // stop event that follows is not taken for a crash.
    it->second.pending = it->second.stopping = true;
  }
  if (!force) stop_cleanly(name, std::chrono::seconds(config()->shutdown_seconds));
  auto r = libvirt_.destroy(name);
  const bool gone = r || r.error().code == "not_found" || [&] {
    auto up = libvirt_.running(name);
    return up && !*up;
  }();
  {
    std::lock_guard l(mutex_);
    auto it = cache_.find(name);
    if (!gone) {
      if (it != cache_.end()) it->second.pending = it->second.stopping = false;
      return r;
    }
    if (it != cache_.end()) cache_.erase(it);
  }
  storage_.remove_overlay(name);
  events_.push(event("stopped", name, meta, "destroyed through the API"));
  log_->info("destroyed desktop '{}' of user '{}' (data disk '{}' kept)", name, meta.user, meta.data_disk);
  return {};
}

Result<aa::Desktop> Desktops::attach_data(const std::string& name) {
  if (!is_desktop_name(name)) return fail("bad_name", "'" + name + "' is not a desktop name (ld-<user>-<id>)", 400);
  DesktopMeta meta;
  {
    std::lock_guard l(mutex_);
    auto it = cache_.find(name);
    if (it == cache_.end()) return fail("not_found", "no desktop '" + name + "' on this host", 404);
    if (it->second.pending) return fail("busy", "desktop '" + name + "' is starting or stopping: retry shortly", 409);
    meta = it->second.meta;
    if (meta.data_disk.empty()) {
      for (const auto& [n, e] : cache_) {
        if (n != name && e.meta.user == meta.user && !e.meta.data_disk.empty()) {
          return fail("data_in_use", "desktop '" + n + "' of user '" + meta.user +
                                         "' still holds the data disk on this host: stop it first", 409);
        }
      }
      it->second.pending = true;  // no destroy while the disk goes in
    }
  }
  if (!meta.data_disk.empty()) return get(name);  // already in: a retried call
  auto release = [&](DesktopMeta* done) {
    std::lock_guard l(mutex_);
    if (auto it = cache_.find(name); it != cache_.end()) {
      it->second.pending = false;
      if (done) it->second.meta.data_disk = done->data_disk;
    }
  };
  auto disk = storage_.ensure_data_disk(meta.user);
  if (!disk) {
    release(nullptr);
    return std::unexpected(disk.error());
  }
  if (auto r = libvirt_.attach_device(name, render_data_disk(*disk)); !r) {
    release(nullptr);
    return std::unexpected(r.error());
  }
  meta.data_disk = *disk;
  release(&meta);
  // In the metadata too: a restart after a crash starts the desktop with its disk.
  if (auto r = libvirt_.set_metadata(name, render_metadata(meta, false)); !r) {
    log_->warn("data disk of '{}': '{}'", name, r.error().message);
  }
  events_.push(event("data_attached", name, meta, *disk));
  log_->info("plugged data disk '{}' into desktop '{}' of user '{}'", *disk, name, meta.user);
  return get(name);
}

bool Desktops::guest_ready(const std::string& name, const DesktopMeta& meta) const {
  auto cfg = config();
  const ImageConfig* image = cfg->image(meta.image);
  if (!image || image->ready_line.empty()) return true;
  // The console log is appended to across crash restarts: the current boot's line is number
  // restarts + 1.
  auto log = read_file(storage_.console_log(name));
  if (!log) return false;
  int seen = 0;
  for (std::size_t at = log->find(image->ready_line); at != std::string::npos;
       at = log->find(image->ready_line, at + image->ready_line.size())) {
    ++seen;
  }
  return seen + meta.boots_elsewhere > meta.restarts;
}

Result<aa::Desktop> Desktops::to_desktop(const DomainInfo& info) const {
  auto meta = parse_metadata(info.metadata);
  if (!meta) return fail("not_found", "domain '" + info.name + "' is not a labdesk desktop", 404);
  aa::Desktop d;
  d.name = info.name;
  d.user = meta->user;
  d.session = meta->session;
  d.image = meta->image;
  d.tier = meta->tier;
  d.state = info.state;
  d.memory_mib = meta->memory_mib > 0 ? meta->memory_mib : info.memory_kib / 1024;
  d.max_memory_mib = info.max_memory_kib / 1024;
  d.vnc = aa::Vnc{config()->vnc_listen, info.vnc_port, ""};
  d.restarts = meta->restarts;
  d.data_attached = !meta->data_disk.empty();
  d.ready = guest_ready(info.name, *meta);
  return d;
}

Result<std::vector<aa::Desktop>> Desktops::list() {
  auto all = libvirt_.list();
  if (!all) return std::unexpected(all.error());
  std::vector<aa::Desktop> out;
  for (const auto& info : *all) {
    if (auto d = to_desktop(info)) out.push_back(std::move(*d));
  }
  return out;
}

Result<aa::Desktop> Desktops::get(const std::string& name) {
  if (!is_desktop_name(name)) return fail("bad_name", "'" + name + "' is not a desktop name (ld-<user>-<id>)", 400);
  auto info = libvirt_.get(name);
  if (!info) return std::unexpected(info.error());
  return to_desktop(*info);
}

Result<aa::MemoryReport> Desktops::memory(const std::string& name) {
  auto d = get(name);
  if (!d) return std::unexpected(d.error());
  auto actual = libvirt_.balloon_actual_kib(name);
  if (!actual) return std::unexpected(actual.error());
  return aa::MemoryReport{d->memory_mib, *actual / 1024};
}

Result<aa::MemoryReport> Desktops::resize(const std::string& name, std::int64_t mib) {
  auto d = get(name);
  if (!d) return std::unexpected(d.error());
  if (mib < kMinMemoryMib || mib > d->max_memory_mib) {
    return fail("bad_memory", "memory_mib " + std::to_string(mib) + " for '" + name + "' must be " +
                                  std::to_string(kMinMemoryMib) + ".." + std::to_string(d->max_memory_mib) +
                                  " (its max_memory_mib; a larger size needs a new desktop)", 400);
  }
  DesktopMeta meta;
  {
    auto cfg = config();
    std::lock_guard l(mutex_);
    std::int64_t committed = 0;
    for (const auto& [n, e] : cache_) committed += n == name ? mib : e.memory_mib;
    if (committed > cfg->capacity_mib) {
      return fail("no_capacity", "no capacity to grow '" + name + "' to " + std::to_string(mib) + " MiB", 409);
    }
  }
  if (auto r = libvirt_.set_memory(name, mib * 1024); !r) return std::unexpected(r.error());
  {
    std::lock_guard l(mutex_);
    if (auto it = cache_.find(name); it != cache_.end()) {
      it->second.memory_mib = mib;
      it->second.meta.memory_mib = mib;
      meta = it->second.meta;
    }
  }
  // The target goes into the metadata too, so it survives an agent restart.
  if (!meta.user.empty()) {
    if (auto r = libvirt_.set_metadata(name, render_metadata(meta, false)); !r) {
      log_->warn("resize of '{}': '{}'", name, r.error().message);
    }
  }
  auto actual = libvirt_.balloon_actual_kib(name);
  events_.push(event("resized", name, meta, "memory_mib=" + std::to_string(mib)));
  return aa::MemoryReport{mib, actual ? *actual / 1024 : 0};
}

std::string Desktops::password_valid_to(const AgentConfig& cfg) {
  if (cfg.console_password_seconds == 0) return "";
  return utc_timestamp(std::chrono::system_clock::now() + std::chrono::seconds(cfg.console_password_seconds));
}

Result<aa::Vnc> Desktops::console_password(const std::string& name, std::int64_t valid_seconds) {
  auto d = get(name);
  if (!d) return std::unexpected(d.error());
  if (valid_seconds < 1 || valid_seconds > 86400) {
    return fail("bad_request", "valid_seconds " + std::to_string(valid_seconds) + " must be 1..86400", 400);
  }
  auto cfg = config();
  const std::string password = random_password();
  const auto valid_to = utc_timestamp(std::chrono::system_clock::now() + std::chrono::seconds(valid_seconds));
  if (auto r = libvirt_.update_graphics(name, render_graphics(cfg->vnc_listen, password, valid_to)); !r) {
    return std::unexpected(r.error());
  }
  log_->info("new console password for '{}', valid for new connections until '{}' UTC", name, valid_to);
  return aa::Vnc{d->vnc.host, d->vnc.port, password};
}

Result<aa::RetiredData> Desktops::retire_data(const std::string& user, const std::string& mode) {
  if (auto ok = check_user(user); !ok) return std::unexpected(ok.error());
  if (mode != "archive" && mode != "delete") {
    return fail("bad_request", "mode '" + mode + "' must be \"archive\" or \"delete\"", 400);
  }
  auto all = list();
  if (!all) return std::unexpected(all.error());
  for (const auto& d : *all) {
    if (d.user == user) {
      return fail("in_use", "user '" + user + "' still has desktop '" + d.name + "' here: end it first", 409);
    }
  }
  return storage_.retire_data_disk(user, mode == "delete");
}

Result<std::vector<unsigned char>> Desktops::screenshot_png(const std::string& name) {
  if (!is_desktop_name(name)) return fail("bad_name", "'" + name + "' is not a desktop name (ld-<user>-<id>)", 400);
  auto shot = libvirt_.screenshot(name);
  if (!shot) return std::unexpected(shot.error());
  if (shot->mime.find("png") != std::string::npos) return shot->bytes;
  return ppm_to_png(shot->bytes);
}

std::int64_t Desktops::committed_mib() const {
  std::lock_guard l(mutex_);
  std::int64_t sum = 0;
  for (const auto& [n, e] : cache_) sum += e.memory_mib;
  return sum;
}

std::vector<VmSample> Desktops::vm_samples() {
  std::vector<VmSample> out;
  auto all = libvirt_.list(false);
  if (!all) return out;
  for (const auto& i : *all) {
    if (parse_metadata(i.metadata)) out.push_back(VmSample{i.name, i.cpu_time_ns, i.memory_kib});
  }
  return out;
}

void Desktops::on_lifecycle(const LifecycleEvent& e) {
  std::lock_guard l(work_mutex_);
  queue_.push_back(e);
  work_cv_.notify_all();
}

void Desktops::resync() { on_lifecycle(LifecycleEvent{"", "resync", ""}); }

void Desktops::settle() {
  std::unique_lock l(work_mutex_);
  work_cv_.wait(l, [&] { return queue_.empty() && !busy_; });
}

void Desktops::work() {
  std::unique_lock l(work_mutex_);
  while (true) {
    work_cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    auto e = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    l.unlock();
    try {
      handle(e);
    } catch (const std::exception& ex) {
      log_->error("handling '{}' of '{}' failed: '{}'", e.kind, e.domain, ex.what());
    }
    l.lock();
    busy_ = false;
    work_cv_.notify_all();
  }
}

void Desktops::handle(const LifecycleEvent& e) {
  if (e.kind == "spare") {
    if (auto r = storage_.make_spare(e.detail); !r) log_->warn("cannot prepare a spare overlay: '{}'", r.error().message);
    return;
  }
  if (e.kind == "resync") {
    auto all = libvirt_.list(false);
    if (!all) return;
    std::map<std::string, Entry> fresh;
    for (const auto& i : *all) {
      if (auto m = parse_metadata(i.metadata)) {
        fresh[i.name] = Entry{*m, m->memory_mib > 0 ? m->memory_mib : i.memory_kib / 1024, false};
      }
    }
    std::vector<std::pair<std::string, DesktopMeta>> vanished;
    std::set<std::string> keep;
    {
      std::lock_guard l(mutex_);
      for (const auto& [n, entry] : cache_) {
        if (entry.pending) fresh[n] = entry;
        else if (!fresh.contains(n)) vanished.emplace_back(n, entry.meta);
      }
      cache_ = fresh;
      for (const auto& [n, entry] : cache_) keep.insert(n);
    }
    for (const auto& n : storage_.sweep_overlays(keep)) log_->info("deleted orphaned overlay of '{}'", n);
    for (const auto& im : config()->images) on_lifecycle(LifecycleEvent{"", "spare", im.base});
    log_->info("state rebuilt from libvirt: {} desktop(s) running", keep.size());
    for (auto& [n, meta] : vanished) {
      {
        std::lock_guard l(mutex_);
        cache_[n] = Entry{meta, 0, false};
      }
      handle_crash(n, "stopped while libvirt was unreachable");
    }
    return;
  }
  if (e.kind == "started") adopt(e.domain);
  DesktopMeta meta;
  {
    std::lock_guard l(mutex_);
    auto it = cache_.find(e.domain);
    if (it == cache_.end() || it->second.pending) return;  // not ours, destroyed by us, or starting
    meta = it->second.meta;
  }
  // "started" is announced by create() itself (with the VNC port): libvirt's may come earlier.
  if (e.kind == "crashed") {
    handle_crash(e.domain, e.detail);
  } else if (e.kind == "shutdown" || e.kind == "destroyed" || e.kind == "stopped" || e.kind == "migrated") {
    if (auto now = libvirt_.get(e.domain); now && now->state != "shutoff") return;  // stale: it runs again
    {
      std::lock_guard l(mutex_);
      cache_.erase(e.domain);
    }
    storage_.remove_overlay(e.domain);
    // A desktop that moved runs on elsewhere: the boot-server must not take it for ended.
    events_.push(event(e.kind == "migrated" ? "migrated" : "stopped", e.domain, meta, e.kind));
    if (e.kind == "migrated") log_->info("desktop '{}' of user '{}' left for another host: its overlay here deleted", e.domain, meta.user);
    else log_->info("desktop '{}' of user '{}' stopped ('{}'): overlay deleted, data disk kept", e.domain, meta.user, e.kind);
  }
}

// A desktop of ours that started without this agent's doing (an admin's `virsh migrate` brought
// it here): known from its metadata from now on, as a resync would have found it.
void Desktops::adopt(const std::string& name) {
  {
    std::lock_guard l(mutex_);
    if (cache_.contains(name)) return;
  }
  auto info = libvirt_.get(name);
  if (!info) return;
  auto meta = parse_metadata(info->metadata);
  if (!meta) return;  // not a labdesk desktop
  std::lock_guard l(mutex_);
  if (cache_.try_emplace(name, Entry{*meta, meta->memory_mib > 0 ? meta->memory_mib : info->memory_kib / 1024, false}).second) {
    log_->info("desktop '{}' of user '{}' arrived without this agent's doing (a migration by hand): adopted", name, meta->user);
  }
}

void Desktops::handle_crash(const std::string& name, const std::string& detail) {
  DesktopMeta meta;
  std::int64_t memory = 0;
  {
    std::lock_guard l(mutex_);
    auto it = cache_.find(name);
    if (it == cache_.end()) return;
    meta = it->second.meta;
    memory = it->second.memory_mib > 0 ? it->second.memory_mib : meta.max_memory_mib;
    it->second.pending = true;  // no destroy or sweep while it restarts
  }
  // With on_crash=destroy the domain is gone already; a guest that merely reported a crash is
  // still there and is stopped before it is started again.
  if (auto r = libvirt_.destroy(name); !r && r.error().code != "not_found") {
    log_->warn("could not stop crashed desktop '{}': '{}'", name, r.error().message);
  }
  storage_.remove_overlay(name);
  events_.push(event("crashed", name, meta, detail));
  log_->warn("desktop '{}' of user '{}' crashed ('{}')", name, meta.user, detail);
  auto cfg = config();
  auto give_up = [&](const std::string& why) {
    {
      std::lock_guard l(mutex_);
      cache_.erase(name);
    }
    events_.push(event("stopped", name, meta, why));
    log_->warn("desktop '{}' of user '{}' not restarted: '{}'", name, meta.user, why);
  };
  if (cfg->restart_policy != "on-crash") return give_up("restart_policy is '" + cfg->restart_policy + "'");
  if (meta.restarts >= cfg->max_restarts) {
    return give_up("crashed " + std::to_string(meta.restarts + 1) + " times (max_restarts " +
                   std::to_string(cfg->max_restarts) + ")");
  }
  DesktopMeta next = meta;
  next.restarts += 1;
  next.memory_mib = memory;
  const std::string password = random_password();
  auto port = start_domain(name, next, memory, password);
  if (!port) return give_up("restart failed: " + port.error().message);
  {
    std::lock_guard l(mutex_);
    cache_[name] = Entry{next, memory, false};
  }
  auto ev = event("restarted", name, next, "restart " + std::to_string(next.restarts));
  ev.vnc = aa::Vnc{cfg->vnc_listen, *port, password};
  events_.push(std::move(ev));
  log_->info("restarted desktop '{}' of user '{}' (restart {}) with the same data disk '{}'", name, meta.user,
             next.restarts, next.data_disk);
}

}  // namespace labdesk::agent
