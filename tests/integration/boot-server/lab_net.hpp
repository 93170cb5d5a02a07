// Test harness for the boot-server's integration tests: network namespaces with a lab bridge,
// child processes started inside them and cleaned up by PID, QEMU lab PCs, polling.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace labdesk::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline int sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

inline std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p)) out += buf.data();
  pclose(p);
  return out;
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Polls `ok` every 100 ms until it holds or `timeout` passes.
inline bool poll(const std::function<bool()>& ok, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (ok()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return ok();
}

// A process we started; stopped (SIGTERM, then SIGKILL) by its PID when this goes away.
class Child {
 public:
  Child() = default;
  Child(const std::vector<std::string>& argv, const fs::path& log) {
    std::vector<std::string> a = argv;
    std::vector<char*> v;
    for (auto& s : a) v.push_back(s.data());
    v.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      int in = ::open("/dev/null", O_RDONLY);
      if (in >= 0) ::dup2(in, 0);
      ::execvp(v[0], v.data());
      ::_exit(127);
    }
  }
  Child(Child&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Child& operator=(Child&& o) noexcept {
    stop();
    pid_ = o.pid_;
    o.pid_ = -1;
    return *this;
  }
  ~Child() { stop(); }

  [[nodiscard]] pid_t pid() const { return pid_; }
  // Exit code once exited, -1 while running.
  int exited(int* status_out = nullptr) {
    if (pid_ <= 0) return status_;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      pid_ = -1;
    }
    if (status_out) *status_out = status_;
    return status_;
  }
  int wait(std::chrono::milliseconds timeout) {
    poll([&] { return exited() >= 0; }, timeout);
    return exited();
  }
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    if (wait(5000ms) < 0 && pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// A network namespace holding the lab: bridge br0 with 10.77.0.1/24 and fd77::1/64.
class Netns {
 public:
  explicit Netns(std::string name, bool lab_bridge = true) : name_(std::move(name)) {
    sh("ip netns del " + name_ + " 2>/dev/null");
    if (sh("ip netns add " + name_) != 0) throw std::runtime_error("cannot create netns '" + name_ + "' (root needed)");
    sh("ip -n " + name_ + " link set lo up");
    if (lab_bridge) {
      sh("ip -n " + name_ + " link add br0 type bridge && ip -n " + name_ + " addr add 10.77.0.1/24 dev br0 && ip -n " +
         name_ + " addr add fd77::1/64 dev br0 nodad && ip -n " + name_ + " link set br0 up");
    }
  }
  ~Netns() {
    // Anything still running in it was started by this test: stop it by PID, then remove.
    for (int round = 0; round < 2; ++round) {
      std::istringstream pids(capture("ip netns pids " + name_ + " 2>/dev/null"));
      for (std::string p; pids >> p;) ::kill(std::stoi(p), round == 0 ? SIGTERM : SIGKILL);
      if (round == 0) std::this_thread::sleep_for(300ms);
    }
    sh("ip netns del " + name_ + " 2>/dev/null");
  }
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::string exec(const std::string& cmd) const { return "ip netns exec " + name_ + " " + cmd; }
  int run(const std::string& cmd) const { return sh(exec(cmd)); }
  [[nodiscard]] std::string out(const std::string& cmd) const { return capture(exec(cmd)); }
  void add_tap(const std::string& tap) const {
    sh("ip -n " + name_ + " tuntap add dev " + tap + " mode tap && ip -n " + name_ + " link set " + tap + " master br0 up");
  }
  // A client namespace `other` joined to br0 through a veth pair, with address `cidr`.
  void attach(const Netns& other, const std::string& veth, const std::string& cidr, const std::string& gateway) const {
    sh("ip link add " + veth + "a netns " + name_ + " type veth peer name " + veth + "b netns " + other.name());
    sh("ip -n " + name_ + " link set " + veth + "a master br0 up");
    sh("ip -n " + other.name() + " addr add " + cidr + " dev " + veth + "b && ip -n " + other.name() + " link set " + veth +
       "b up");
    if (!gateway.empty()) sh("ip -n " + other.name() + " route add default via " + gateway);
  }

 private:
  std::string name_;
};

inline std::string unique(const std::string& stem) { return stem + std::to_string(::getpid() % 100000); }

inline fs::path scratch(const std::string& name) {
  fs::path p = fs::path(LABDESK_BINARY_DIR) / "test-scratch" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

inline fs::path boot_server_binary() { return fs::path(LABDESK_BINARY_DIR) / "boot-server/labdesk-boot-server"; }

// The pxe-assets output (kernel, thin-client initramfs, iPXE stages) in the build folder, where
// the pxe-assets target writes it; brought up to date here too (cached by input hash, ~1 s).
inline fs::path assets() {
  const fs::path out = fs::path(LABDESK_BINARY_DIR) / "pxe-assets";
  fs::create_directories(out);
  // Test cases run in parallel (ctest -j): one build at a time.
  const std::string cmd = "flock " + out.string() + ".lock " + std::string(LABDESK_SOURCE_DIR) + "/pxe-assets/build.sh " +
                          out.string() + " > " + (out.string() + ".log") + " 2>&1";
  if (sh(cmd) != 0) throw std::runtime_error("pxe-assets/build.sh failed: see " + out.string() + ".log");
  return out;
}

// Moves the calling thread into a named network namespace until the scope ends (so that an
// in-process library, libnftables here, works on that namespace's kernel state).
class InNetns {
 public:
  explicit InNetns(const Netns& ns) : home_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
    const int fd = ::open(("/run/netns/" + ns.name()).c_str(), O_RDONLY | O_CLOEXEC);
    if (home_ < 0 || fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) throw std::runtime_error("cannot enter netns '" + ns.name() + "'");
    ::close(fd);
  }
  ~InNetns() {
    (void)::setns(home_, CLONE_NEWNET);
    ::close(home_);
  }
  InNetns(const InNetns&) = delete;
  InNetns& operator=(const InNetns&) = delete;

 private:
  int home_;
};

inline std::string lab_config(const fs::path& state, const std::string& extra = "") {
  return "[lab]\ninterface = \"br0\"\naddress = \"10.77.0.1/24\"\nrange_start = \"10.77.0.100\"\n"
         "range_end = \"10.77.0.200\"\nlease_seconds = 600\n\n[boot]\nassets_dir = \"" +
         assets().string() + "\"\nstate_dir = \"" + state.string() + "\"\n\n[[hosts]]\nname = \"virt-a\"\ncapacity_mib = 4096\n" + extra;
}

// A diskless lab PC: QEMU (TCG) with one virtio NIC on `tap`, booting from the network.
inline Child lab_pc(const Netns& ns, const std::string& tap, const std::string& mac, bool uefi, const fs::path& dir) {
  std::vector<std::string> argv{"ip", "netns", "exec", ns.name(), "qemu-system-x86_64", "-accel", "tcg", "-m", "384",
                                "-smp", "1", "-display", "none", "-no-reboot", "-serial",
                                "file:" + (dir / ("serial-" + tap + ".log")).string(), "-netdev",
                                "tap,id=n0,ifname=" + tap + ",script=no,downscript=no", "-device",
                                "virtio-net-pci,netdev=n0,mac=" + mac, "-boot", "n"};
  if (uefi) {
    fs::copy_file("/usr/share/OVMF/OVMF_VARS.fd", dir / ("vars-" + tap + ".fd"), fs::copy_options::overwrite_existing);
    argv.insert(argv.end(), {"-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd", "-drive",
                             "if=pflash,format=raw,file=" + (dir / ("vars-" + tap + ".fd")).string()});
  }
  return Child(argv, dir / ("qemu-" + tap + ".log"));
}

}  // namespace labdesk::test
