#include "labdesk/agent/storage.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <filesystem>

#include "labdesk/agent/names.hpp"

namespace labdesk::agent {

namespace fs = std::filesystem;

Result<void> run_command(const std::vector<std::string>& argv) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return fail("io", std::string("pipe failed: ") + std::strerror(errno), 500);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // mkfs.ext4 lives in /usr/sbin, which a non-root PATH often lacks; built before fork (no
  // allocation between fork and exec in a threaded process).
  const std::string in_usr_sbin = "/usr/sbin/" + argv.front();
  const std::string in_sbin = "/sbin/" + argv.front();
  pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return fail("io", std::string("fork failed: ") + std::strerror(errno), 500);
  }
  if (pid == 0) {
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execvp(args[0], args.data());
    if (argv.front().find('/') == std::string::npos) {
      execv(in_usr_sbin.c_str(), args.data());
      execv(in_sbin.c_str(), args.data());
    }
    _exit(127);
  }
  close(pipefd[1]);
  std::string out;
  std::array<char, 4096> buf{};
  ssize_t n = 0;
  while ((n = read(pipefd[0], buf.data(), buf.size())) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0 && out.size() < 8192) out.append(buf.data(), static_cast<std::size_t>(n));
  }
  close(pipefd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return fail("io", "command '" + argv.front() + "' failed (status " + std::to_string(status) + "): '" + out + "'", 500);
}

Storage::Storage(StorageDirs dirs, std::shared_ptr<spdlog::logger> log) : dirs_(std::move(dirs)), log_(std::move(log)) {}

void Storage::prepare() const {
  for (const auto& d : {dirs_.overlay_dir, dirs_.data_dir, dirs_.console_dir}) {
    if (d.empty()) continue;
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) throw Failure(Error{"config", "cannot create directory '" + d + "': " + ec.message(), 500});
    // qemu runs as its own user: it must reach files in here (libvirt chowns the files).
    fs::permissions(d, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec, ec);
  }
}

std::string Storage::overlay_path(const std::string& desktop) const {
  return join_inside(dirs_.overlay_dir, desktop + ".qcow2");
}
std::string Storage::data_disk_path(const std::string& user) const {
  return join_inside(dirs_.data_dir, user + ".qcow2");
}
std::string Storage::console_socket(const std::string& desktop) const {
  return dirs_.console_dir.empty() || !dirs_.console_socket ? "" : join_inside(dirs_.console_dir, desktop + ".sock");
}
std::string Storage::console_log(const std::string& desktop) const {
  return dirs_.console_dir.empty() ? "" : join_inside(dirs_.console_dir, desktop + ".log");
}

namespace {
// ".spare-<hash of the base path>.qcow2": not a desktop name, so sweeps leave it alone.
std::string spare_name(const std::string& base) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016zx", std::hash<std::string>{}(base));
  return std::string(".spare-") + hex + ".qcow2";
}
}  // namespace

Result<void> Storage::make_spare(const std::string& base) const {
  if (!inside(dirs_.images_dir, base)) return fail("bad_path", "base image '" + base + "' is outside images_dir", 400);
  const std::string spare = join_inside(dirs_.overlay_dir, spare_name(base));
  std::error_code ec;
  if (fs::exists(spare, ec) || !fs::exists(base, ec)) return {};
  const std::string tmp = spare + ".tmp";
  auto r = run_command({"qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", tmp});
  if (!r) {
    fs::remove(tmp, ec);
    return r;
  }
  fs::rename(tmp, spare, ec);
  return {};
}

Result<std::string> Storage::create_overlay(const std::string& desktop, const std::string& base) const {
  if (!inside(dirs_.images_dir, base)) {
    return fail("bad_path", "base image '" + base + "' is outside images_dir '" + dirs_.images_dir + "'", 400);
  }
  std::error_code ec;
  if (!fs::exists(base, ec)) return fail("missing_image", "base image '" + base + "' does not exist on this host", 409);
  const std::string path = overlay_path(desktop);
  fs::remove(path, ec);
  // rename() is atomic: of two starts racing for one spare, one gets it, the other runs qemu-img.
  fs::rename(join_inside(dirs_.overlay_dir, spare_name(base)), path, ec);
  if (!ec) return path;
  auto r = run_command({"qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", path});
  if (!r) return std::unexpected(r.error());
  return path;
}

void Storage::remove_overlay(const std::string& desktop) const {
  std::error_code ec;
  if (fs::remove(overlay_path(desktop), ec)) log_->info("removed overlay of '{}'", desktop);
  if (!dirs_.console_dir.empty() && dirs_.console_socket) fs::remove(console_socket(desktop), ec);
}

Result<std::string> Storage::ensure_data_disk(const std::string& user) {
  const std::string path = data_disk_path(user);
  std::lock_guard l(data_mutex_);
  std::error_code ec;
  if (fs::exists(path, ec)) return path;
  // Build aside under names of this host and process (data_dir may be one area that every host
  // mounts), then publish with link(), which never replaces: a disk another host published
  // meanwhile wins and this one is dropped, so a user's data is never swapped for an empty disk.
  char host[64] = {};
  gethostname(host, sizeof host - 1);
  const std::string mine = "." + user + "." + host + "-" + std::to_string(getpid());
  const std::string raw = join_inside(dirs_.data_dir, mine + ".raw.tmp");
  const std::string tmp = join_inside(dirs_.data_dir, mine + ".qcow2.tmp");
  auto cleanup = [&] {
    fs::remove(raw, ec);
    fs::remove(tmp, ec);
  };
  cleanup();
  auto size = std::to_string(dirs_.data_disk_mib) + "M";
  for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"truncate", "-s", size, raw},
           {"mkfs.ext4", "-q", "-F", "-L", "labdesk-data", "-E", "root_owner=1000:1000", raw},
           {"qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, tmp}}) {
    if (auto r = run_command(cmd); !r) {
      cleanup();
      return std::unexpected(r.error());
    }
  }
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int err = errno;
  cleanup();
  if (linked != 0 && err == EEXIST) {
    log_->info("data disk '{}' of user '{}' was made by another host meanwhile: using it", path, user);
    return path;
  }
  if (linked != 0) return fail("io", "cannot create data disk '" + path + "': " + std::strerror(err), 500);
  log_->info("created data disk '{}' of {} MiB for user '{}'", path, dirs_.data_disk_mib, user);
  return path;
}

Result<api::agent::RetiredData> Storage::retire_data_disk(const std::string& user, bool remove) {
  const std::string path = data_disk_path(user);
  std::lock_guard l(data_mutex_);
  std::error_code ec;
  api::agent::RetiredData out{user, remove ? "delete" : "archive", false, ""};
  if (!fs::exists(path, ec)) return out;
  out.found = true;
  if (remove) {
    if (!fs::remove(path, ec) || ec) return fail("io", "cannot delete data disk '" + path + "': " + ec.message(), 500);
    log_->warn("deleted the data disk '{}' of user '{}' as an administrator asked", path, user);
    return out;
  }
  const fs::path dir = fs::path(dirs_.data_dir) / "retired";
  fs::create_directories(dir, ec);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  const fs::path to = dir / (user + "-" + stamp + ".qcow2");
  fs::rename(path, to, ec);
  if (ec) return fail("io", "cannot archive data disk '" + path + "' to '" + to.string() + "': " + ec.message(), 500);
  out.archived_to = to.string();
  log_->info("archived the data disk of user '{}' to '{}'", user, out.archived_to);
  return out;
}

bool same_or_nested(const std::string& a, const std::string& b) {
  std::error_code ec;
  auto norm = [&](const std::string& p) {
    auto c = fs::weakly_canonical(fs::path(p), ec).lexically_normal();
    if (ec) c = fs::path(p).lexically_normal();
    auto s = c.string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return fs::path(s);
  };
  const auto x = norm(a), y = norm(b);
  auto inside = [](const fs::path& outer, const fs::path& inner) {
    auto [o, i] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
    return o == outer.end();
  };
  return inside(x, y) || inside(y, x);
}

std::vector<std::string> Storage::sweep_overlays(const std::set<std::string>& keep) const {
  std::vector<std::string> removed;
  if (same_or_nested(dirs_.overlay_dir, dirs_.data_dir)) {
    // Checked at config load too; a symlink made since must still not cost anyone their data.
    log_->error("overlay sweep skipped: overlay_dir '{}' and data_dir '{}' are the same folder or nested", dirs_.overlay_dir,
                dirs_.data_dir);
    return removed;
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dirs_.overlay_dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file(ec) || !file.ends_with(".qcow2")) continue;
    const std::string desktop = file.substr(0, file.size() - 6);
    if (!is_desktop_name(desktop) || keep.contains(desktop)) continue;
    remove_overlay(desktop);
    removed.push_back(desktop);
  }
  return removed;
}

}  // namespace labdesk::agent
