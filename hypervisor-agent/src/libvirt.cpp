#include "labdesk/agent/libvirt.hpp"

#include "libvirt_impl.hpp"

namespace labdesk::agent {
namespace {
using namespace libvirt_detail;
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
