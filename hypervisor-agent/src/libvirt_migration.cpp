// Live migration through libvirt (peer to peer): the source's libvirtd drives it and QEMU streams
// memory and the listed disks to the destination's QEMU over the hosts' network.
#include <condition_variable>
#include <mutex>
#include <thread>

#include "labdesk/agent/libvirt.hpp"
#include "libvirt_impl.hpp"

namespace labdesk::agent {
namespace {

using libvirt_detail::DomainRef;
using libvirt_detail::last_error;

// Typed parameters freed on every path.
struct Params {
  virTypedParameterPtr p = nullptr;
  int n = 0;
  int max = 0;
  ~Params() { virTypedParamsFree(p, n); }
  bool add(const char* name, const std::string& value) {
    return value.empty() || virTypedParamsAddString(&p, &n, &max, name, value.c_str()) == 0;
  }
};

std::int64_t ullong_of(virTypedParameterPtr p, int n, const char* name) {
  unsigned long long v = 0;
  return virTypedParamsGetULLong(p, n, name, &v) == 1 ? static_cast<std::int64_t>(v) : -1;
}

}  // namespace

Result<std::string> Libvirt::migratable_xml(const std::string& name) {
  return impl_->with([&](virConnectPtr c) -> Result<std::string> {
    auto d = Impl::lookup(c, name);
    if (!d) return std::unexpected(d.error());
    DomainRef ref(*d);
    char* x = virDomainGetXMLDesc(ref.d, VIR_DOMAIN_XML_MIGRATABLE | VIR_DOMAIN_XML_SECURE);
    if (!x) return fail("libvirt", "cannot read the XML of '" + name + "': '" + last_error() + "'", 500);
    std::string out = x;
    std::free(x);
    return out;
  });
}

Result<void> Libvirt::migrate(const std::string& name, const MigrationRequest& req) {
  return impl_->with([&](virConnectPtr c) -> Result<void> {
    auto d = Impl::lookup(c, name);
    if (!d) return std::unexpected(d.error());
    DomainRef ref(*d);
    Params params;
    bool ok = params.add(VIR_MIGRATE_PARAM_URI, req.migrate_uri) && params.add(VIR_MIGRATE_PARAM_DEST_XML, req.dest_xml);
    for (const auto& disk : req.copy_disks) ok = ok && params.add(VIR_MIGRATE_PARAM_MIGRATE_DISKS, disk);
    if (!ok) return fail("libvirt", "cannot build the migration parameters: '" + last_error() + "'", 500);
    unsigned int flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER;
    if (!req.copy_disks.empty()) flags |= VIR_MIGRATE_NON_SHARED_INC;
    if (req.unsafe) flags |= VIR_MIGRATE_UNSAFE;
    if (req.auto_converge) flags |= VIR_MIGRATE_AUTO_CONVERGE;
    // Before the job starts QEMU takes it as its downtime limit; a refusal only costs the default.
    (void)virDomainMigrateSetMaxDowntime(ref.d, static_cast<unsigned long long>(req.max_downtime_ms), 0);

    // The call blocks for the whole migration; a watchdog aborts a job that overruns its time.
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    bool aborted = false;
    std::thread watchdog([&] {
      std::unique_lock l(mu);
      if (!cv.wait_for(l, req.timeout, [&] { return done; })) {
        aborted = true;
        virDomainAbortJob(ref.d);
      }
    });
    int rc = virDomainMigrateToURI3(ref.d, req.peer_uri.c_str(), params.p, static_cast<unsigned int>(params.n), flags);
    const std::string why = rc < 0 ? last_error() : "";
    {
      std::lock_guard l(mu);
      done = true;
    }
    cv.notify_all();
    watchdog.join();
    if (rc < 0) {
      if (aborted) {
        return fail("migration_failed", "migrating '" + name + "' took longer than " + std::to_string(req.timeout.count()) +
                                            " s (migration.timeout_seconds) and was cancelled: it keeps running here", 504);
      }
      return fail("migration_failed", "libvirt could not migrate '" + name + "' to '" + req.peer_uri + "': '" + why +
                                          "': it keeps running here", 502);
    }
    return {};
  });
}

Result<JobStats> Libvirt::completed_job(const std::string& name) {
  return impl_->with([&](virConnectPtr c) -> Result<JobStats> {
    auto d = Impl::lookup(c, name);
    if (!d) return std::unexpected(d.error());
    DomainRef ref(*d);
    int type = 0;
    virTypedParameterPtr p = nullptr;
    int n = 0;
    if (virDomainGetJobStats(ref.d, &type, &p, &n, VIR_DOMAIN_JOB_STATS_COMPLETED | VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED) < 0) {
      return fail("libvirt", "no job statistics for '" + name + "': '" + last_error() + "'", 500);
    }
    JobStats s;
    s.elapsed_ms = ullong_of(p, n, VIR_DOMAIN_JOB_TIME_ELAPSED);
    s.downtime_ms = ullong_of(p, n, VIR_DOMAIN_JOB_DOWNTIME);
    s.memory_bytes = ullong_of(p, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED);
    s.disk_bytes = ullong_of(p, n, VIR_DOMAIN_JOB_DISK_PROCESSED);
    virTypedParamsFree(p, n);
    return s;
  });
}

}  // namespace labdesk::agent
