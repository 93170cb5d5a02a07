// Which accelerator desktops run with: KVM where the host has it, TCG (emulation) otherwise.
// `[desktops] accel` asks ("auto", "kvm", "tcg"); the host's /dev/kvm answers.
#pragma once

#include <string>
#include <string_view>

#include "labdesk/common/error.hpp"

namespace labdesk::agent {

struct KvmProbe {
  bool usable = false;
  std::string reason;  // why not, e.g. "'/dev/kvm': No such file or directory"
};

// Opens the device and asks for the KVM API version (12 on every kernel since 2.6.22): a device
// node that exists but that this process may not use, or a stub, is not KVM.
KvmProbe probe_kvm(const std::string& device = "/dev/kvm");

struct AccelChoice {
  std::string accel;    // "kvm" | "tcg"
  std::string warning;  // "" or why "auto" fell back to TCG
};

// Pure: the accelerator for what the config asks and what the probe found. Forcing "kvm" on a
// host without it is an error (desktops 10-50x slower than the admin planned for); "auto" falls
// back to TCG with a warning.
Result<AccelChoice> choose_accel(std::string_view wanted, const KvmProbe& kvm);

}  // namespace labdesk::agent
