#include "pxe/boot_files.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include "labdesk/common/file.hpp"

namespace labdesk::boot {
namespace fs = std::filesystem;
namespace {

std::string hex(const unsigned char* d, unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) {
    s += digits[d[i] >> 4];
    s += digits[d[i] & 15];
  }
  return s;
}


void copy_atomic(const fs::path& from, const fs::path& to) {
  fs::path tmp = to;
  tmp += ".tmp";
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                           fs::perms::others_read);
  fs::rename(tmp, to);
}

// Names a version may have: the hex digest prefix we create.
bool valid_version(const std::string& v) {
  return v.size() == 16 && std::all_of(v.begin(), v.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::string sha256_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Failure(Error{"boot_files", "cannot read '" + p.string() + "'", 500});
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::array<char, 1 << 16> buf{};
  while (in) {
    in.read(buf.data(), buf.size());
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned n = 0;
  EVP_DigestFinal_ex(ctx.get(), md.data(), &n);
  return hex(md.data(), n);
}

BootFiles::BootFiles(fs::path state_dir, std::size_t keep_versions, std::shared_ptr<spdlog::logger> log)
    : state_dir_(std::move(state_dir)), keep_versions_(keep_versions), log_(std::move(log)) {}

std::string BootFiles::check_assets(const fs::path& assets_dir, const std::vector<std::string>& loaders) {
  std::string missing;
  auto need = [&](const fs::path& p) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) missing += (missing.empty() ? "'" : ", '") + p.string() + "'";
  };
  for (const auto& f : boot_file_names()) need(assets_dir / f);
  for (const auto& l : loaders) {
    if (!l.empty()) need(assets_dir / "ipxe" / l);
  }
  if (missing.empty()) return "";
  return "boot files missing in boot.assets_dir '" + assets_dir.string() + "': " + missing +
         "; build them with pxe-assets/build.sh " + assets_dir.string();
}

std::string BootFiles::import(const fs::path& assets_dir, const std::vector<std::string>& loaders) {
  if (auto problem = check_assets(assets_dir, loaders); !problem.empty()) {
    throw Failure(Error{"boot_files", problem, 500});
  }
  // The version names the bytes PCs get: file names and contents of everything served.
  std::vector<std::pair<std::string, fs::path>> files;
  for (const auto& f : boot_file_names()) files.emplace_back(f, assets_dir / f);
  for (const auto& l : loaders) {
    if (!l.empty()) files.emplace_back("ipxe/" + l, assets_dir / "ipxe" / l);
  }
  if (fs::is_regular_file(assets_dir / "ipxe/boot.ipxe")) files.emplace_back("ipxe/boot.ipxe", assets_dir / "ipxe/boot.ipxe");
  std::string manifest;
  for (const auto& [name, path] : files) manifest += sha256_file(path) + "  " + name + "\n";
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned n = 0;
  EVP_Digest(manifest.data(), manifest.size(), md.data(), &n, EVP_sha256(), nullptr);
  const std::string version = hex(md.data(), n).substr(0, 16);

  const fs::path versions = state_dir_ / "boot";
  const fs::path dir = versions / version;
  fs::create_directories(versions);
  if (!fs::exists(dir / "MANIFEST")) {
    fs::path tmp = versions / (version + ".tmp");
    fs::remove_all(tmp);
    for (const auto& [name, path] : files) {
      fs::create_directories((tmp / name).parent_path());
      copy_atomic(path, tmp / name);
    }
    std::ofstream(tmp / "MANIFEST") << manifest;
    fs::rename(tmp, dir);
    log_->info("boot version '{}' imported from '{}'", version, assets_dir.string());
  }
  // Refresh the modification time: pruning keeps the most recently current versions.
  fs::last_write_time(dir, fs::file_time_type::clock::now());

  fs::create_directories(tftp_root());
  // dnsmasq serves TFTP after dropping to an unprivileged user: it may pass through the state
  // folder (0711: the store's tokens and hashes are not listed or read) into the TFTP folder.
  fs::permissions(state_dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::replace);
  fs::permissions(tftp_root(), fs::perms::others_read | fs::perms::others_exec | fs::perms::group_read | fs::perms::group_exec,
                  fs::perm_options::add);
  for (const auto& l : loaders) {
    if (!l.empty()) copy_atomic(dir / "ipxe" / l, tftp_root() / l);
  }
  std::string templ = fs::exists(dir / "ipxe/boot.ipxe") ? read_file(dir / "ipxe/boot.ipxe").value_or("") : "";
  {
    std::lock_guard lock(mu_);
    if (current_ != version) log_->info("boot version '{}' is now current (was '{}')", version, current_);
    current_ = version;
    template_ = std::move(templ);
  }
  prune(version);
  return version;
}

void BootFiles::prune(const std::string& keep) {
  std::vector<std::pair<fs::file_time_type, fs::path>> old;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state_dir_ / "boot", ec)) {
    const std::string name = e.path().filename().string();
    if (name == keep) continue;
    if (!valid_version(name)) {
      if (name.ends_with(".tmp")) fs::remove_all(e.path(), ec);  // left by a crash mid-import
      continue;
    }
    old.emplace_back(fs::last_write_time(e.path(), ec), e.path());
  }
  std::sort(old.begin(), old.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = keep_versions_; i < old.size(); ++i) {
    log_->info("boot version '{}' pruned (keeping {} older versions)", old[i].second.filename().string(), keep_versions_);
    fs::remove_all(old[i].second, ec);
  }
}

std::string BootFiles::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::string BootFiles::script_template() const {
  std::lock_guard lock(mu_);
  return template_;
}

std::vector<std::string> BootFiles::versions() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state_dir_ / "boot", ec)) {
    if (valid_version(e.path().filename().string())) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<fs::path> BootFiles::resolve(const std::string& version, const std::string& relative) const {
  if (!valid_version(version)) return std::nullopt;
  const auto& names = boot_file_names();
  if (std::find(names.begin(), names.end(), relative) == names.end()) return std::nullopt;
  fs::path p = state_dir_ / "boot" / version / relative;
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  return p;
}

}  // namespace labdesk::boot
