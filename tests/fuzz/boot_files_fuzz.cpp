// A boot file request's version and path (GET /boot/{version}/{path}, and the sendfile server's
// own lookup): whatever a lab PC asks for, the answer is a file inside that version or nothing.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fuzz.hpp"
#include "labdesk/common/log.hpp"
#include "pxe/boot_files.hpp"

namespace {

namespace fs = std::filesystem;

struct Files {
  fs::path root = fs::temp_directory_path() / ("labdesk-fuzz-boot-" + std::to_string(::getpid()));
  std::unique_ptr<labdesk::boot::BootFiles> files;
  std::string version;
  Files() {
    fs::remove_all(root);
    for (const char* f : {"vmlinuz", "thin-client/initrd.cpio.gz", "ipxe/undionly.kpxe"}) {
      fs::create_directories((root / "assets" / f).parent_path());
      std::ofstream(root / "assets" / f) << f;
    }
    std::ofstream(root / "secret.txt") << "not a boot file";
    files = std::make_unique<labdesk::boot::BootFiles>(root / "state", 1, labdesk::log::make_logger("fuzz", spdlog::level::off));
    version = files->import(root / "assets", {"undionly.kpxe", "", ""});
  }
  ~Files() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Files f;
  auto text = labdesk::fuzz::bytes(data, size);
  auto nl = text.find('\n');
  std::string version(nl == std::string_view::npos ? std::string_view(f.version) : text.substr(0, nl));
  std::string rel(nl == std::string_view::npos ? text : text.substr(nl + 1));
  auto p = f.files->resolve(version, rel);
  if (!p) return 0;
  const auto inside = fs::weakly_canonical(f.root / "state" / "boot" / version);
  const auto got = fs::weakly_canonical(*p);
  auto [a, b] = std::mismatch(inside.begin(), inside.end(), got.begin(), got.end());
  if (a != inside.end()) labdesk::fuzz::fail("boot file '" + rel + "' of version '" + version + "' resolved outside it: " + got.string());
  if (!fs::is_regular_file(got)) labdesk::fuzz::fail("boot file '" + rel + "' resolved to a non-file: " + got.string());
  return 0;
}
