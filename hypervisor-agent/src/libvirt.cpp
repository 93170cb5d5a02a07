#include "labdesk/agent/libvirt.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "labdesk/agent/domain_xml.hpp"

namespace labdesk::agent {
namespace {

void ignore_error(void*, virErrorPtr) {}

std::string last_error() {
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

std::string state_name(unsigned char s) {
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

LifecycleEvent classify(const char* name, int event, int detail) {
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
      default: e.kind = "stopped";
    }
  }
  return e;
}

}  // namespace

struct EventLoop::Impl {
  std::atomic<bool> stopping{false};
  std::thread thread;
};

EventLoop::EventLoop() : impl_(std::make_unique<Impl>()) {
  // libvirt keeps one event implementation per process; registering twice is harmless only
  // before any connection exists, so guard it.
  static std::once_flag once;
  std::call_once(once, [] {
    virSetErrorFunc(nullptr, ignore_error);
    if (virEventRegisterDefaultImpl() < 0) {
      throw Failure(Error{"libvirt", "cannot register libvirt's event loop: " + last_error(), 500});
    }
  });
  impl_->thread = std::thread([impl = impl_.get()] {
    while (!impl->stopping.load()) virEventRunDefaultImpl();
  });
}

EventLoop::~EventLoop() {
  impl_->stopping = true;
  // A zero timeout wakes the loop so the thread sees the flag.
  int id = virEventAddTimeout(0, [](int timer, void*) { virEventRemoveTimeout(timer); }, nullptr, nullptr);
  (void)id;
  impl_->thread.join();
}

struct Libvirt::Impl {
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
      self->on_event(classify(virDomainGetName(dom), event, detail));
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
        if (first) log->warn("cannot connect to libvirt '{}': '{}': retrying", opt.uri, last_error());
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
      out.state = state_name(i.state);
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

Libvirt::Libvirt(EventLoop&, Options options, std::shared_ptr<spdlog::logger> log, EventFn on_event,
                 ConnectedFn on_connected)
    : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  impl_->log = std::move(log);
  impl_->on_event = std::move(on_event);
  impl_->on_connected = std::move(on_connected);
}

Libvirt::~Libvirt() { stop(); }

void Libvirt::start() {
  impl_->reconnector = std::thread([this] { impl_->run(); });
  // Give the first attempt a moment so a healthy start answers "connected" at once.
  for (int i = 0; i < 200 && !impl_->up; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void Libvirt::stop() {
  {
    std::lock_guard l(impl_->wake_mutex);
    impl_->stopping = true;
    impl_->wake.notify_all();
  }
  if (impl_->reconnector.joinable()) impl_->reconnector.join();
  impl_->close();
}

bool Libvirt::connected() const { return impl_->up && !impl_->broken; }
const std::string& Libvirt::uri() const { return impl_->opt.uri; }

Result<void> Libvirt::create(const std::string& xml) {
  return impl_->with([&](virConnectPtr c) -> Result<void> {
    virDomainPtr d = virDomainCreateXML(c, xml.c_str(), 0);
    if (!d) return fail("libvirt", "libvirt could not start the desktop: '" + last_error() + "'", 500);
    virDomainFree(d);
    return {};
  });
}

Result<void> Libvirt::destroy(const std::string& name) {
  return impl_->with([&](virConnectPtr c) -> Result<void> {
    auto d = Impl::lookup(c, name);
    if (!d) return std::unexpected(d.error());
    DomainRef ref(*d);
    if (virDomainDestroy(ref.d) < 0) return fail("libvirt", "cannot destroy '" + name + "': '" + last_error() + "'", 500);
    return {};
  });
}

Result<void> Libvirt::shutdown(const std::string& name) {
  return impl_->with([&](virConnectPtr c) -> Result<void> {
    auto d = Impl::lookup(c, name);
    if (!d) return std::unexpected(d.error());
    DomainRef ref(*d);
    if (virDomainShutdown(ref.d) < 0) return fail("libvirt", "cannot shut down '" + name + "': '" + last_error() + "'", 500);
    return {};
  });
}

Result<bool> Libvirt::running(const std::string& name) {
  return impl_->with([&](virConnectPtr c) -> Result<bool> {
    auto d = Impl::lookup(c, name);
    if (!d) {
      if (d.error().code == "not_found") return false;
      return std::unexpected(d.error());
    }
    DomainRef ref(*d);
    return virDomainIsActive(ref.d) == 1;
  });
}

Result<std::vector<DomainInfo>> Libvirt::list(bool with_xml) {
  return impl_->with([&](virConnectPtr c) -> Result<std::vector<DomainInfo>> {
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(c, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0) return fail("libvirt", "cannot list domains: '" + last_error() + "'", 500);
    std::vector<DomainInfo> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(Impl::info_of(doms[i], with_xml));
      virDomainFree(doms[i]);
    }
    std::free(doms);
    return out;
  });
}

Result<DomainInfo> Libvirt::get(const std::string& name) {
  return impl_->with([&](virConnectPtr c) -> Result<DomainInfo> {
    auto d = Impl::lookup(c, name);
    if (!d) return std::unexpected(d.error());
    DomainRef ref(*d);
    return Impl::info_of(ref.d, true);
  });
}

Result<void> Libvirt::set_memory(const std::string& name, std::int64_t kib) {
  return impl_->with([&](virConnectPtr c) -> Result<void> {
    auto d = Impl::lookup(c, name);
    if (!d) return std::unexpected(d.error());
    DomainRef ref(*d);
    if (virDomainSetMemoryFlags(ref.d, static_cast<unsigned long>(kib), VIR_DOMAIN_AFFECT_LIVE) < 0) {
      return fail("libvirt", "cannot resize '" + name + "': '" + last_error() + "'", 409);
    }
    return {};
  });
}

Result<void> Libvirt::update_graphics(const std::string& name, const std::string& graphics_xml) {
  return impl_->with([&](virConnectPtr c) -> Result<void> {
    auto d = Impl::lookup(c, name);
    if (!d) return std::unexpected(d.error());
    DomainRef ref(*d);
    if (virDomainUpdateDeviceFlags(ref.d, graphics_xml.c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0) {
      return fail("libvirt", "cannot change the console password of '" + name + "': '" + last_error() + "'", 502);
    }
    return {};
  });
}

Result<void> Libvirt::attach_device(const std::string& name, const std::string& device_xml) {
  return impl_->with([&](virConnectPtr c) -> Result<void> {
    auto d = Impl::lookup(c, name);
    if (!d) return std::unexpected(d.error());
    DomainRef ref(*d);
    if (virDomainAttachDeviceFlags(ref.d, device_xml.c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0) {
      const std::string why = last_error();
      // QEMU's image locking: another VM (on this host or any host sharing the file) has it open.
      if (why.find("\"write\" lock") != std::string::npos) {
        return fail("data_in_use", "the data disk is still open in another desktop: '" + why + "'", 409);
      }
      return fail("libvirt", "cannot plug a device into '" + name + "': '" + why + "'", 502);
    }
    return {};
  });
}

Result<void> Libvirt::set_metadata(const std::string& name, const std::string& element_xml) {
  return impl_->with([&](virConnectPtr c) -> Result<void> {
    auto d = Impl::lookup(c, name);
    if (!d) return std::unexpected(d.error());
    DomainRef ref(*d);
    if (virDomainSetMetadata(ref.d, VIR_DOMAIN_METADATA_ELEMENT, element_xml.c_str(), std::string(kMetadataPrefix).c_str(),
                             std::string(kMetadataNs).c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0) {
      return fail("libvirt", "cannot update the metadata of '" + name + "': '" + last_error() + "'", 500);
    }
    return {};
  });
}

Result<std::int64_t> Libvirt::balloon_actual_kib(const std::string& name) {
  return impl_->with([&](virConnectPtr c) -> Result<std::int64_t> {
    auto d = Impl::lookup(c, name);
    if (!d) return std::unexpected(d.error());
    DomainRef ref(*d);
    virDomainMemoryStatStruct stats[VIR_DOMAIN_MEMORY_STAT_NR];
    int n = virDomainMemoryStats(ref.d, stats, VIR_DOMAIN_MEMORY_STAT_NR, 0);
    if (n < 0) return fail("libvirt", "no memory statistics for '" + name + "': '" + last_error() + "'", 500);
    for (int i = 0; i < n; ++i) {
      if (stats[i].tag == VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON) return static_cast<std::int64_t>(stats[i].val);
    }
    virDomainInfo info{};
    if (virDomainGetInfo(ref.d, &info) == 0) return static_cast<std::int64_t>(info.memory);
    return fail("libvirt", "no balloon statistics for '" + name + "'", 500);
  });
}

Result<Screenshot> Libvirt::screenshot(const std::string& name) {
  return impl_->with([&](virConnectPtr c) -> Result<Screenshot> {
    auto d = Impl::lookup(c, name);
    if (!d) return std::unexpected(d.error());
    DomainRef ref(*d);
    virStreamPtr st = virStreamNew(c, 0);
    if (!st) return fail("libvirt", "cannot open a stream: '" + last_error() + "'", 500);
    char* mime = virDomainScreenshot(ref.d, st, 0, 0);
    if (!mime) {
      virStreamFree(st);
      return fail("libvirt", "cannot take a screenshot of '" + name + "': '" + last_error() + "'", 500);
    }
    Screenshot shot;
    shot.mime = mime;
    std::free(mime);
    char buf[65536];
    int got = 0;
    while ((got = virStreamRecv(st, buf, sizeof buf)) > 0) {
      shot.bytes.insert(shot.bytes.end(), buf, buf + got);
    }
    if (got < 0) {
      virStreamAbort(st);
      virStreamFree(st);
      return fail("libvirt", "screenshot stream of '" + name + "' failed: '" + last_error() + "'", 500);
    }
    virStreamFinish(st);
    virStreamFree(st);
    return shot;
  });
}

}  // namespace labdesk::agent
