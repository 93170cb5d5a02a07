// libvirt's connection internals shared by the agent's libvirt files (libvirt.cpp: connection,
// domains; libvirt_migration.cpp: live migration). Private to the agent: no libvirt type leaves
// these files.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "labdesk/agent/domain_xml.hpp"
#include "labdesk/agent/libvirt.hpp"

namespace labdesk::agent {
namespace libvirt_detail {


inline void ignore_error(void*, virErrorPtr) {}

inline std::string last_error() {
  const char* m = virGetLastErrorMessage();
  return m ? m : "unknown libvirt error";
}

struct DomainRef {
  virDomainPtr d = nullptr;
  explicit DomainRef(virDomainPtr p) : d(p) {}
  ~DomainRef() {
    if (d) virDomainFree(d);
  }
  DomainRef(const DomainRef&) = delete;
  DomainRef& operator=(const DomainRef&) = delete;
};

inline std::string state_name(unsigned char s) {
  switch (s) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "running";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "running";
    case VIR_DOMAIN_SHUTOFF: return "shutoff";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "paused";
    default: return "starting";
  }
}

inline LifecycleEvent classify(const char* name, int event, int detail) {
  LifecycleEvent e{name, "other", "event=" + std::to_string(event) + " detail=" + std::to_string(detail)};
  if (event == VIR_DOMAIN_EVENT_STARTED) {
    e.kind = "started";
  } else if (event == VIR_DOMAIN_EVENT_CRASHED) {
    e.kind = "crashed";
    e.detail = "guest reported a crash";
  } else if (event == VIR_DOMAIN_EVENT_STOPPED) {
    switch (detail) {
      case VIR_DOMAIN_EVENT_STOPPED_FAILED:
        e.kind = "crashed";
        e.detail = "qemu process ended unexpectedly";
        break;
      case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
        e.kind = "crashed";
        e.detail = "guest crashed";
        break;
      case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: e.kind = "shutdown"; break;
      case VIR_DOMAIN_EVENT_STOPPED_DESTROYED: e.kind = "destroyed"; break;
      // It runs on another host now (a live migration): nothing here to restart or mourn.
      case VIR_DOMAIN_EVENT_STOPPED_MIGRATED: e.kind = "migrated"; break;
      default: e.kind = "stopped";
    }
  }
  return e;
}


}  // namespace libvirt_detail

struct Libvirt::Impl {
  using DomainRef = libvirt_detail::DomainRef;
  Options opt;
  std::shared_ptr<spdlog::logger> log;
  EventFn on_event;
  ConnectedFn on_connected;

  mutable std::shared_mutex conn_mutex;
  virConnectPtr conn = nullptr;
  int lifecycle_id = -1;
  std::atomic<bool> broken{false};
  std::atomic<bool> up{false};

  std::mutex wake_mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread reconnector;

  static void on_close(virConnectPtr, int reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    self->log->warn("libvirt connection to '{}' closed (reason {}): reconnecting", self->opt.uri, reason);
    self->mark_broken();
  }

  static int on_lifecycle(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    try {
      self->on_event(libvirt_detail::classify(virDomainGetName(dom), event, detail));
    } catch (const std::exception& e) {
      self->log->error("lifecycle event handler failed: '{}'", e.what());
    }
    return 0;
  }

  void mark_broken() {
    up = false;
    broken = true;
    std::lock_guard l(wake_mutex);
    wake.notify_all();
  }

  bool open() {
    virConnectPtr c = virConnectOpen(opt.uri.c_str());
    if (!c) return false;
    virConnectRegisterCloseCallback(c, on_close, this, nullptr);
    virConnectSetKeepAlive(c, 3, 3);  // unsupported on test:/// — harmless
    int id = virConnectDomainEventRegisterAny(c, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                              VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), this, nullptr);
    {
      std::unique_lock l(conn_mutex);
      conn = c;
      lifecycle_id = id;
    }
    broken = false;
    up = true;
    return true;
  }

  void close() {
    std::unique_lock l(conn_mutex);
    if (!conn) return;
    if (lifecycle_id >= 0) virConnectDomainEventDeregisterAny(conn, lifecycle_id);
    virConnectUnregisterCloseCallback(conn, on_close);
    virConnectClose(conn);
    conn = nullptr;
    lifecycle_id = -1;
    up = false;
  }

  void run() {
    auto backoff = opt.min_backoff;
    bool first = true;
    std::unique_lock l(wake_mutex);
    while (!stopping) {
      if (up && !broken) {
        wake.wait(l, [&] { return stopping || broken.load(); });
        continue;
      }
      l.unlock();
      close();
      bool ok = open();
      l.lock();
      if (ok) {
        log->info("connected to libvirt '{}'", opt.uri);
        backoff = opt.min_backoff;
        l.unlock();
        try {
          if (on_connected) on_connected();
        } catch (const std::exception& e) {
          log->error("resync after connecting to libvirt failed: '{}'", e.what());
        }
        l.lock();
      } else {
        if (first) log->warn("cannot connect to libvirt '{}': '{}': retrying", opt.uri, libvirt_detail::last_error());
        wake.wait_for(l, backoff, [&] { return stopping; });
        backoff = std::min(backoff * 2, opt.max_backoff);
      }
      first = false;
    }
  }

  // Runs fn(conn) under the shared lock; a dead connection becomes "libvirt_unavailable".
  template <typename F>
  auto with(F&& fn) -> decltype(fn(static_cast<virConnectPtr>(nullptr))) {
    std::shared_lock l(conn_mutex);
    if (!conn || broken) {
      return fail("libvirt_unavailable", "libvirt '" + opt.uri + "' is not connected: the agent is reconnecting, retry shortly", 503);
    }
    auto r = fn(conn);
    if (!r && virConnectIsAlive(conn) == 0) {
      l.unlock();
      mark_broken();
      return fail("libvirt_unavailable", "lost the connection to libvirt '" + opt.uri + "': the agent is reconnecting, retry shortly", 503);
    }
    return r;
  }

  static Result<virDomainPtr> lookup(virConnectPtr c, const std::string& name) {
    virDomainPtr d = virDomainLookupByName(c, name.c_str());
    if (!d) return fail("not_found", "no running desktop '" + name + "'", 404);
    return d;
  }

  static DomainInfo info_of(virDomainPtr d, bool with_xml) {
    DomainInfo out;
    out.name = virDomainGetName(d);
    if (char* m = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, std::string(kMetadataNs).c_str(),
                                       VIR_DOMAIN_AFFECT_LIVE)) {
      out.metadata = m;
      std::free(m);
    }
    virDomainInfo i{};
    if (virDomainGetInfo(d, &i) == 0) {
      out.state = libvirt_detail::state_name(i.state);
      out.memory_kib = static_cast<std::int64_t>(i.memory);
      out.max_memory_kib = static_cast<std::int64_t>(i.maxMem);
      out.cpu_time_ns = i.cpuTime;
      out.vcpus = i.nrVirtCpu;
    }
    if (with_xml) {
      if (char* x = virDomainGetXMLDesc(d, 0)) {
        out.vnc_port = vnc_port_from_xml(x);
        std::free(x);
      }
    }
    return out;
  }
};

}  // namespace labdesk::agent
