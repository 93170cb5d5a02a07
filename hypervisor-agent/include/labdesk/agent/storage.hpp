// Disk files: a fresh qcow2 overlay per start (deleted when the VM stops) and the user's
// persistent data disk (created on first use, never deleted here). Every path is checked to lie
// inside the configured directories.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "labdesk/common/api/agent.hpp"
#include "labdesk/common/error.hpp"

namespace labdesk::agent {

// Runs argv (no shell); the error names the command and carries its output.
Result<void> run_command(const std::vector<std::string>& argv);

// True when folders a and b are the same or one holds the other, compared as the folders they are
// (trailing '/', '..' and symlinks resolved), not as strings.
bool same_or_nested(const std::string& a, const std::string& b);

struct StorageDirs {
  std::string images_dir;
  std::string overlay_dir;
  std::string data_dir;
  std::string console_dir;
  bool console_socket = false;  // console_mode "unix"
  std::int64_t data_disk_mib = 1024;
};

class Storage {
 public:
  Storage(StorageDirs dirs, std::shared_ptr<spdlog::logger> log);

  // Creates the directories the agent writes to (not images_dir).
  void prepare() const;

  [[nodiscard]] std::string overlay_path(const std::string& desktop) const;
  [[nodiscard]] std::string data_disk_path(const std::string& user) const;
  [[nodiscard]] std::string console_socket(const std::string& desktop) const;
  [[nodiscard]] std::string console_log(const std::string& desktop) const;

  // A new overlay on `base` (replacing a leftover one of the same desktop). Takes the spare
  // overlay of that base when there is one (a rename instead of running qemu-img on the start
  // path); a spare was never attached to any VM, so it is exactly as fresh.
  Result<std::string> create_overlay(const std::string& desktop, const std::string& base) const;
  // Makes the spare overlay of `base` if it is missing (run off the request path).
  Result<void> make_spare(const std::string& base) const;
  void remove_overlay(const std::string& desktop) const;
  // The user's data disk, created (qcow2 holding an ext4 file system labelled "labdesk-data")
  // if it does not exist yet. Concurrent calls for one user create it once.
  Result<std::string> ensure_data_disk(const std::string& user);
  // Moves the user's data disk to data_dir/retired/<user>-<UTC time>.qcow2 (archive) or removes
  // it (the admin said delete); nothing there is not an error.
  Result<api::agent::RetiredData> retire_data_disk(const std::string& user, bool remove);
  // Deletes overlays (and stale temporary files) of desktops not in `keep`; returns their names.
  std::vector<std::string> sweep_overlays(const std::set<std::string>& keep) const;

  [[nodiscard]] const StorageDirs& dirs() const { return dirs_; }

 private:
  StorageDirs dirs_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex data_mutex_;
};

}  // namespace labdesk::agent
