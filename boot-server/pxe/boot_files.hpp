// Versioned boot files. Each distinct set of pxe-assets files becomes a read-only folder
// STATE/boot/<version> (version = the first 16 hex digits of a SHA-256 over names and contents),
// created under a temporary name and renamed into place, so a file a PC is fetching never
// changes under it. boot.ipxe names the version, so a PC that got an older script keeps
// fetching that version's files; older versions are kept (keep_versions) and then pruned.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "labdesk/common/error.hpp"

namespace labdesk::boot {

// The files a boot version holds, relative to assets_dir (and to the version folder).
inline const std::vector<std::string>& boot_file_names() {
  static const std::vector<std::string> names{"vmlinuz", "thin-client/initrd.cpio.gz"};
  return names;
}

class BootFiles {
 public:
  // state_dir/boot holds the versions, state_dir/tftp the first stages dnsmasq serves.
  BootFiles(std::filesystem::path state_dir, std::size_t keep_versions,
            std::shared_ptr<spdlog::logger> log);

  // Checks that assets_dir holds everything a PC needs (the kernel, the initramfs and the
  // first stages named in `loaders`); returns the problems as one message, empty if none.
  static std::string check_assets(const std::filesystem::path& assets_dir,
                                  const std::vector<std::string>& loaders);

  // Imports assets_dir as a version (no copy if unchanged), makes it current, refreshes the
  // TFTP folder and prunes old versions. Throws labdesk::Failure if files are missing.
  std::string import(const std::filesystem::path& assets_dir, const std::vector<std::string>& loaders);

  [[nodiscard]] std::string current() const;
  [[nodiscard]] std::vector<std::string> versions() const;
  // The boot.ipxe template of the current version ("" if pxe-assets has none).
  [[nodiscard]] std::string script_template() const;

  // The file for GET /boot/<version>/<relative>, or nullopt if no such version or file.
  [[nodiscard]] std::optional<std::filesystem::path> resolve(const std::string& version,
                                                             const std::string& relative) const;

  [[nodiscard]] std::filesystem::path tftp_root() const { return state_dir_ / "tftp"; }

 private:
  void prune(const std::string& keep);

  std::filesystem::path state_dir_;
  std::size_t keep_versions_;
  std::shared_ptr<spdlog::logger> log_;
  mutable std::mutex mu_;
  std::string current_;
  std::string template_;
};

// Hex SHA-256 of a file's contents (OpenSSL).
std::string sha256_file(const std::filesystem::path& p);

}  // namespace labdesk::boot
