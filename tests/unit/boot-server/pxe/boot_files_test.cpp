#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "labdesk/common/log.hpp"
#include "pxe/boot_files.hpp"

namespace {

using namespace labdesk;
namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::trunc) << text;
}

TEST_CASE("boot files: content-addressed versions, old ones kept while PCs may use them, then pruned") {
  const fs::path root = fs::temp_directory_path() / ("labdesk-bootfiles-" + std::to_string(::getpid()));
  fs::remove_all(root);
  const fs::path assets = root / "assets";
  write(assets / "vmlinuz", "kernel-1");
  write(assets / "thin-client/initrd.cpio.gz", "initrd-1");
  write(assets / "ipxe/undionly.kpxe", "bios");
  write(assets / "ipxe/snponly.efi", "efi");
  const std::vector<std::string> loaders{"undionly.kpxe", "snponly.efi", ""};
  boot::BootFiles files(root / "state", 1, log::make_logger("test", spdlog::level::off));

  const std::string v1 = files.import(assets, loaders);
  CHECK(v1.size() == 16);
  CHECK(files.import(assets, loaders) == v1);  // unchanged assets: same version
  CHECK(fs::exists(files.tftp_root() / "undionly.kpxe"));
  auto p = files.resolve(v1, "vmlinuz");
  REQUIRE(p);

  write(assets / "vmlinuz", "kernel-2");
  const std::string v2 = files.import(assets, loaders);
  CHECK(v2 != v1);
  CHECK(files.current() == v2);
  // A PC that fetched boot.ipxe before the change still gets the old, unchanged bytes.
  std::ifstream old(*files.resolve(v1, "vmlinuz"));
  std::string content;
  std::getline(old, content);
  CHECK(content == "kernel-1");

  write(assets / "vmlinuz", "kernel-3");
  const std::string v3 = files.import(assets, loaders);
  CHECK(files.versions().size() == 2);  // current + keep_versions = 1
  CHECK(!files.resolve(v1, "vmlinuz"));
  CHECK(files.resolve(v2, "vmlinuz"));

  // Only the served names, only real versions.
  CHECK(!files.resolve(v3, "../../etc/passwd"));
  CHECK(!files.resolve("..", "vmlinuz"));
  CHECK(!files.resolve(v3, "MANIFEST"));

  fs::remove(assets / "thin-client/initrd.cpio.gz");
  CHECK_THROWS_WITH_AS(files.import(assets, loaders), doctest::Contains("thin-client/initrd.cpio.gz"), Failure);
  CHECK(files.current() == v3);
  fs::remove_all(root);
}

}  // namespace
