#include "pxe/supervisor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "labdesk/common/error.hpp"

namespace labdesk::boot {
namespace {

using namespace std::chrono_literals;

std::string describe(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// True if process PID itself holds a UDP socket bound to local port `port`. /proc/PID/net/udp
// lists every socket of the network namespace (libvirt's own dnsmasq on port 67 among them), so
// a socket counts only when its inode is one of PID's open files.
bool bound_udp(pid_t pid, unsigned port) {
  const std::string proc = "/proc/" + std::to_string(pid);
  std::set<std::string> inodes;
  std::ifstream in(proc + "/net/udp");
  std::string line;
  std::getline(in, line);
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port);
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string slot, local, remote, state, queues, timer, retr, uid, timeout, inode;
    s >> slot >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
    if (local.size() > 5 && local.substr(local.size() - 5) == want) inodes.insert("socket:[" + inode + "]");
  }
  if (inodes.empty()) return false;
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator(proc + "/fd", ec)) {
    std::error_code rec;
    if (inodes.contains(std::filesystem::read_symlink(fd.path(), rec).string())) return true;
  }
  return false;
}

}  // namespace

DnsmasqSupervisor::DnsmasqSupervisor(boost::asio::io_context& io, SupervisorOptions options,
                                     std::shared_ptr<spdlog::logger> log)
    : io_(io), opt_(std::move(options)), log_(std::move(log)), poll_timer_(io), restart_timer_(io),
      backoff_(opt_.min_backoff) {}

DnsmasqSupervisor::~DnsmasqSupervisor() { stop(1000ms); }

std::string DnsmasqSupervisor::test_config(const std::string& binary, const std::string& conf_file) {
  const std::string cmd = "'" + binary + "' --test --conf-file='" + conf_file + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "cannot run '" + binary + "'";
  std::string out;
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int rc = pclose(p);
  if (rc == 0) return "";
  while (!out.empty() && out.back() == '\n') out.pop_back();
  if (out.empty()) out = "'" + binary + "' failed (is dnsmasq installed? set boot.dnsmasq)";
  return out;
}

void DnsmasqSupervisor::kill_stale() const {
  pid_t stale = 0;
  std::ifstream(pid_file()) >> stale;
  if (stale <= 0 || stale == pid_) return;
  std::ifstream cmd("/proc/" + std::to_string(stale) + "/cmdline", std::ios::binary);
  const std::string line((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
  if (line.find(std::string("--conf-file=") + opt_.conf_file + '\0') == std::string::npos) return;  // PID reused
  log_->warn("dnsmasq pid '{}' of an earlier run is still running: killing it", stale);
  ::kill(stale, SIGKILL);
  for (int i = 0; i < 100 && ::kill(stale, 0) == 0; ++i) std::this_thread::sleep_for(20ms);  // not our child
}

pid_t DnsmasqSupervisor::spawn() {
  kill_stale();
  std::vector<std::string> args{opt_.binary, "--keep-in-foreground", "--conf-file=" + opt_.conf_file,
                                "--log-facility=" + opt_.log_file, "--pid-file="};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int logfd = ::open(opt_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw Failure(Error{"dnsmasq", "cannot fork to start dnsmasq", 500});
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    if (logfd >= 0) {
      ::dup2(logfd, 1);
      ::dup2(logfd, 2);
    }
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  if (logfd >= 0) ::close(logfd);
  std::ofstream(pid_file(), std::ios::trunc) << pid << "\n";
  started_at_ = std::chrono::steady_clock::now();
  last_health_ = started_at_;
  misses_ = 0;
  log_->info("dnsmasq started with pid '{}' (config '{}')", pid, opt_.conf_file);
  return pid;
}

void DnsmasqSupervisor::start(std::chrono::milliseconds timeout) {
  stopping_ = false;
  pid_ = spawn();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw Failure(Error{"dnsmasq", "dnsmasq exited at start (" + describe(status) + "): '" + last_log_line() + "'", 500});
    }
    if (bound_udp(pid_, 67)) {
      watch();
      return;
    }
    std::this_thread::sleep_for(50ms);
  }
  stop(1000ms);
  throw Failure(Error{"dnsmasq", "dnsmasq did not bind the DHCP port within " + std::to_string(timeout.count()) +
                                     " ms: '" + last_log_line() + "'", 500});
}

void DnsmasqSupervisor::watch() {
  poll_timer_.expires_after(opt_.poll);
  poll_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_ || pid_ <= 0) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      schedule_restart("dnsmasq exited (" + describe(status) + "): '" + last_log_line() + "'");
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - started_at_ > opt_.stable_after) backoff_ = opt_.min_backoff;
    if (now - last_health_ >= opt_.health_every) {
      last_health_ = now;
      misses_ = bound_udp(pid_, 67) ? 0 : misses_ + 1;
      if (misses_ >= opt_.health_misses) {
        log_->warn("dnsmasq pid '{}' failed {} health checks (not bound to DHCP port 67): killing it", pid_, misses_);
        ::kill(pid_, SIGKILL);
      }
    }
    watch();
  });
}

void DnsmasqSupervisor::schedule_restart(const std::string& why) {
  log_->warn("{}; restarting in {} ms", why, backoff_.count());
  restart_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, opt_.max_backoff);
  restart_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_ || pid_ > 0) return;
    try {
      pid_ = spawn();
      ++restarts_;
      watch();
    } catch (const std::exception& e) {
      schedule_restart(std::string("dnsmasq restart failed: ") + e.what());
    }
  });
}

void DnsmasqSupervisor::reload_hosts() {
  if (pid_ > 0) {
    ::kill(pid_, SIGHUP);
    log_->info("dnsmasq pid '{}' told to re-read reservations (SIGHUP)", pid_);
  }
}

void DnsmasqSupervisor::restart() {
  stop();
  start();
}

void DnsmasqSupervisor::stop(std::chrono::milliseconds grace) {
  stopping_ = true;
  poll_timer_.cancel();
  restart_timer_.cancel();
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  log_->info("dnsmasq pid '{}' stopped", pid_);
  std::remove(pid_file().c_str());
  pid_ = -1;
}

bool DnsmasqSupervisor::healthy() const { return pid_ > 0 && bound_udp(pid_, 67); }

std::string DnsmasqSupervisor::last_log_line() const {
  std::ifstream in(opt_.log_file);
  std::string line, last;
  // "FAILED to start up" follows the line that says why; keep the reason.
  while (std::getline(in, line)) {
    if (!line.empty() && line.find("FAILED to start up") == std::string::npos) last = line;
  }
  return last;
}

}  // namespace labdesk::boot
