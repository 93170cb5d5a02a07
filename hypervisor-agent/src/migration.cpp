// Live migration of desktops between hosts (docs/migration.md). The boot-server drives it in
// three calls: the destination gets ready (prepare_incoming), the source migrates (migrate_out),
// the destination takes the desktop on (finish_incoming). The overlay is copied with the
// migration (it is local to each host); the data disk stays where it is, on the storage every host
// shares.
#include <chrono>
#include <filesystem>

#include "labdesk/agent/desktops.hpp"
#include "labdesk/agent/names.hpp"

namespace labdesk::agent {

namespace aa = api::agent;

namespace {

// "qemu+tls://host-b.lab:16514/system" → "host-b.lab"
std::string uri_host(const std::string& uri) {
  auto start = uri.find("://");
  if (start == std::string::npos) return "";
  start += 3;
  auto end = uri.find_first_of(":/?", start);
  return uri.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

HostPaths Desktops::paths_here(const std::string& name, const DesktopMeta& meta) const {
  auto cfg = config();
  HostPaths p;
  p.overlay = meta.overlay.empty() ? storage_.overlay_path(name) : meta.overlay;
  p.console_socket = storage_.console_socket(name);
  p.console_log = storage_.console_log(name);
  if (const ImageConfig* image = cfg->image(meta.image)) {
    p.kernel = image->kernel;
    p.initrd = image->initrd;
  }
  p.vnc_listen = cfg->vnc_listen;
  return p;
}

Result<aa::MigrationTarget> Desktops::prepare_incoming(const aa::IncomingMigration& req) {
  auto cfg = config();
  if (cfg->migration_peer_uri.empty()) {
    return fail("migration_off", "host '" + cfg->host + "' takes no desktops while they run: set migration.peer_uri in its agent config", 409);
  }
  if (!is_desktop_name(req.desktop)) return fail("bad_name", "'" + req.desktop + "' is not a desktop name (ld-<user>-<id>)", 400);
  const ImageConfig* image = cfg->image(req.image);
  if (!image) {
    return fail("unknown_image", "image '" + req.image + "' is not in this host's catalog: GET /v1/images lists them", 400);
  }
  if (auto r = network_ready(*cfg); !r) return std::unexpected(r.error());
  if (auto here = libvirt_.running(req.desktop); !here) return std::unexpected(here.error());
  else if (*here) return fail("in_use", "desktop '" + req.desktop + "' already runs on host '" + cfg->host + "'", 409);
  {
    std::lock_guard l(mutex_);
    if (auto it = cache_.find(req.desktop); it != cache_.end()) {
      if (it->second.pending) return fail("in_use", "desktop '" + req.desktop + "' is already expected here", 409);
      // It left a moment ago (libvirt no longer runs it here); its "migrated" event is still queued.
      cache_.erase(it);
    }
    DesktopMeta meta;
    meta.image = req.image;
    cache_[req.desktop] = Entry{meta, 0, true};  // pending: its overlay survives a sweep
  }
  // An empty overlay on this host's copy of the base: the migration fills in what the guest wrote.
  auto overlay = storage_.create_overlay(req.desktop, image->base);
  if (!overlay) {
    std::lock_guard l(mutex_);
    cache_.erase(req.desktop);
    return std::unexpected(overlay.error());
  }
  DesktopMeta meta;
  meta.image = req.image;
  meta.overlay = *overlay;
  HostPaths p = paths_here(req.desktop, meta);
  // A log left from an earlier stay here would make this stay's console look older than it is.
  if (!p.console_log.empty()) {
    std::error_code ec;
    std::filesystem::remove(p.console_log, ec);
  }
  aa::MigrationTarget t;
  t.host = cfg->host;
  t.peer_uri = cfg->migration_peer_uri;
  t.migrate_uri = "tcp://" + (cfg->migration_address.empty() ? uri_host(cfg->migration_peer_uri) : cfg->migration_address);
  t.vnc_listen = p.vnc_listen;
  t.overlay = p.overlay;
  t.console_socket = p.console_socket;
  t.console_log = p.console_log;
  t.kernel = p.kernel;
  t.initrd = p.initrd;
  t.accel = cfg->accel;
  log_->info("ready for desktop '{}' to arrive (image '{}', overlay '{}')", req.desktop, req.image, t.overlay);
  return t;
}

Result<aa::MigrationReport> Desktops::migrate_out(const std::string& name, const aa::MigrationTarget& target) {
  const auto started = std::chrono::steady_clock::now();
  auto cfg = config();
  if (!is_desktop_name(name)) return fail("bad_name", "'" + name + "' is not a desktop name (ld-<user>-<id>)", 400);
  if (target.peer_uri.empty() || target.overlay.empty()) {
    return fail("bad_request", "target needs peer_uri and overlay: POST /v1/migrations on the destination gives them", 400);
  }
  if (!target.accel.empty() && target.accel != cfg->accel) {
    return fail("accel_mismatch", "desktop '" + name + "' runs with '" + cfg->accel + "' and host '" + target.host + "' with '" +
                                      target.accel + "': a desktop moves live only between hosts with the same accel",
                409);
  }
  adopt(name);  // brought here by hand (virsh) a moment ago: libvirt's event may still be queued
  DesktopMeta meta;
  {
    std::lock_guard l(mutex_);
    auto it = cache_.find(name);
    if (it == cache_.end()) return fail("not_found", "no running desktop '" + name + "'", 404);
    if (it->second.pending || it->second.stopping) {
      return fail("busy", "desktop '" + name + "' is starting or stopping: it cannot move now", 409);
    }
    meta = it->second.meta;
  }
  auto xml = libvirt_.migratable_xml(name);
  if (!xml) return std::unexpected(xml.error());
  DesktopMeta there = meta;
  there.overlay = target.overlay;
  there.boots_elsewhere = meta.restarts + 1;  // every boot so far is in this host's console log
  HostPaths to{target.overlay, target.console_socket, target.console_log, target.kernel, target.initrd, target.vnc_listen};
  auto dest_xml = migration_xml(std::move(*xml), paths_here(name, meta), to, there);
  if (!dest_xml) return fail("not_found", "domain '" + name + "' is not a labdesk desktop", 404);
  MigrationRequest mr;
  mr.peer_uri = target.peer_uri;
  mr.migrate_uri = target.migrate_uri;
  mr.dest_xml = *dest_xml;
  mr.copy_disks = {"vda"};  // the throwaway overlay; the data disk (vdb) is on shared storage
  mr.unsafe = cfg->migration_unproven_shared;
  mr.auto_converge = cfg->migration_auto_converge;
  mr.max_downtime_ms = cfg->migration_max_downtime_ms;
  mr.timeout = std::chrono::seconds(cfg->migration_timeout_seconds);
  log_->info("moving desktop '{}' of user '{}' to host '{}' while it runs", name, meta.user, target.host);
  if (auto r = libvirt_.migrate(name, mr); !r) {
    log_->warn("desktop '{}' did not move to host '{}': '{}'", name, target.host, r.error().message);
    return std::unexpected(r.error());
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  log_->info("desktop '{}' of user '{}' runs on host '{}' now ({} ms)", name, meta.user, target.host, ms);
  // libvirt's "migrated" event deletes the overlay here and tells the boot-server.
  return aa::MigrationReport{name, target.host, ms};
}

Result<aa::Arrival> Desktops::arrival_figures(const std::string& name) {
  aa::Arrival a;
  if (auto job = libvirt_.completed_job(name)) {
    a.downtime_ms = job->downtime_ms;
    a.elapsed_ms = job->elapsed_ms;
    a.memory_bytes = job->memory_bytes;
    a.disk_bytes = job->disk_bytes;
  }
  auto d = get(name);
  if (!d) return std::unexpected(d.error());
  a.desktop = *d;
  return a;
}

Result<aa::Arrival> Desktops::finish_incoming(const std::string& name, std::chrono::milliseconds wait) {
  if (!is_desktop_name(name)) return fail("bad_name", "'" + name + "' is not a desktop name (ld-<user>-<id>)", 400);
  bool pending = false;
  {
    std::lock_guard l(mutex_);
    auto it = cache_.find(name);
    if (it != cache_.end()) pending = it->second.pending;
    if (it == cache_.end() || (!pending && !it->second.meta.boots_elsewhere)) {
      return fail("not_found", "no desktop '" + name + "' is expected here", 404);
    }
  }
  if (!pending) return arrival_figures(name);  // taken on already (while libvirt finished): its figures now
  // With a wait: the guest runs here once libvirt resumes it, which is before the source's
  // libvirt has finished (it still stops the old QEMU): the boot-server switches the viewer then.
  const auto until = std::chrono::steady_clock::now() + wait;
  while (wait.count() > 0) {
    auto info = libvirt_.get(name);
    if (info && info->state == "running") break;
    if (std::chrono::steady_clock::now() >= until) {
      return fail("not_arrived", "desktop '" + name + "' does not run here yet: ask again", 409);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto cfg = config();
  auto info = libvirt_.get(name);
  auto meta = info ? parse_metadata(info->metadata) : std::nullopt;
  if (!info || info->state != "running" || !meta) {
    // It never arrived (or the migration failed): the prepared overlay goes, the desktop runs on.
    {
      std::lock_guard l(mutex_);
      cache_.erase(name);
    }
    storage_.remove_overlay(name);
    return fail("migration_failed", "desktop '" + name + "' did not arrive on host '" + cfg->host +
                                        "': it keeps running where it was", 409);
  }
  {
    std::lock_guard l(mutex_);
    cache_[name] = Entry{*meta, meta->memory_mib > 0 ? meta->memory_mib : info->memory_kib / 1024, false};
  }
  // The password came along in the XML; a fresh one is what the boot-server hands the viewer.
  auto vnc = console_password(name, cfg->console_password_seconds > 0 ? cfg->console_password_seconds : 60);
  if (!vnc) return std::unexpected(vnc.error());
  auto figures = arrival_figures(name);
  if (!figures) return std::unexpected(figures.error());
  aa::Arrival a = std::move(*figures);
  a.desktop.vnc = *vnc;
  events_.push(event("arrived", name, *meta, "live migration, downtime " + std::to_string(a.downtime_ms) + " ms"));
  log_->info("desktop '{}' of user '{}' arrived by live migration (downtime {} ms)", name, meta->user, a.downtime_ms);
  return a;
}

}  // namespace labdesk::agent
