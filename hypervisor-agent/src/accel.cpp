#include "labdesk/agent/accel.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace labdesk::agent {

KvmProbe probe_kvm(const std::string& device) {
  int fd = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return {false, "'" + device + "': " + std::strerror(errno)};
  int version = ::ioctl(fd, KVM_GET_API_VERSION, 0);
  int err = errno;
  ::close(fd);
  if (version < 0) return {false, "'" + device + "' does not answer KVM_GET_API_VERSION: " + std::strerror(err)};
  if (version != KVM_API_VERSION) {
    return {false, "'" + device + "' speaks KVM API " + std::to_string(version) + ", not " + std::to_string(KVM_API_VERSION)};
  }
  return {true, ""};
}

Result<AccelChoice> choose_accel(std::string_view wanted, const KvmProbe& kvm) {
  if (wanted == "tcg") return AccelChoice{"tcg", ""};
  if (wanted == "kvm") {
    if (kvm.usable) return AccelChoice{"kvm", ""};
    return fail("kvm_unavailable", "accel 'kvm' but this host cannot run KVM (" + kvm.reason +
                                       "): enable virtualization in the firmware and load kvm_intel or kvm_amd, "
                                       "or set [desktops] accel = \"auto\" or \"tcg\"");
  }
  if (wanted == "auto") {
    if (kvm.usable) return AccelChoice{"kvm", ""};
    return AccelChoice{"tcg", "no KVM on this host (" + kvm.reason +
                                  "): desktops run emulated (TCG), many times slower; see docs/hosts.md"};
  }
  return fail("bad_accel", "unknown accel '" + std::string(wanted) + "': use \"auto\", \"kvm\" or \"tcg\"");
}

}  // namespace labdesk::agent
