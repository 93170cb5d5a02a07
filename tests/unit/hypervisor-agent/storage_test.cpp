// Users' data disks when data_dir is one area that several hosts mount: the second host uses the
// disk the first made, and a disk is never replaced by a new empty one.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <iterator>

#include "fixture.hpp"

namespace {

using namespace labdesk;
namespace fs = std::filesystem;

agent::StorageDirs dirs(const std::string& root, const std::string& host) {
  return {root + "/images", root + "/" + host + "-overlays", root + "/shared-data", "", false, 16};
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("storage: two hosts sharing one data area use one disk per user, and never replace it") {
  test::TempDir root;
  auto log = log::make_logger("storage-test", spdlog::level::warn);
  agent::Storage a(dirs(root.path, "a"), log), b(dirs(root.path, "b"), log);
  a.prepare();
  b.prepare();
  auto made = a.ensure_data_disk("alice");
  REQUIRE_MESSAGE(made.has_value(), made.error().message);
  // What alice wrote on host a (bytes past the image's end stand for her files).
  std::ofstream(*made, std::ios::app | std::ios::binary) << "alice-was-here";
  const std::string before = slurp(*made);
  auto found = b.ensure_data_disk("alice");
  REQUIRE(found.has_value());
  CHECK(*found == *made);
  CHECK(slurp(*found) == before);
  // Nothing of the build left behind, from either host.
  for (const auto& e : fs::directory_iterator(root.path + "/shared-data")) {
    CHECK(e.path().filename().string() == "alice.qcow2");
  }
}

TEST_CASE("storage: a disk another host publishes while this one builds wins, and is not replaced") {
  test::TempDir root;
  auto log = log::make_logger("storage-test", spdlog::level::warn);
  agent::Storage a(dirs(root.path, "a"), log);
  a.prepare();
  const std::string theirs = root.path + "/shared-data/alice.qcow2";
  // The other host publishes alice's disk while this one is inside mkfs: a mkfs.ext4 first on
  // PATH does that, then runs the real one.
  fs::create_directories(root.path + "/bin");
  std::ofstream(root.path + "/bin/mkfs.ext4") << "#!/bin/sh\nprintf 'made-on-host-b' > '" << theirs
                                               << "'\nexec /usr/sbin/mkfs.ext4 \"$@\"\n";
  fs::permissions(root.path + "/bin/mkfs.ext4", fs::perms::owner_all);
  const std::string path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
  setenv("PATH", (root.path + "/bin:" + path).c_str(), 1);
  auto made = a.ensure_data_disk("alice");
  setenv("PATH", path.c_str(), 1);
  REQUIRE_MESSAGE(made.has_value(), made.error().message);
  CHECK(*made == theirs);
  CHECK(slurp(theirs) == "made-on-host-b");
  for (const auto& e : fs::directory_iterator(root.path + "/shared-data")) {
    CHECK(e.path().filename().string() == "alice.qcow2");
  }
}
