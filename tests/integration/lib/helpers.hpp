// Helpers for integration tests: child processes by PID, polling, files, a VNC login check.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace labdesk::itest {

// A child process (no shell); stdout and stderr go to log_path. Killed (SIGKILL) if still
// running when destroyed.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& log_path);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  [[nodiscard]] int pid() const { return pid_; }
  // Sends sig and waits up to `timeout`; returns the exit status (-1 on timeout).
  int stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  [[nodiscard]] bool running() const;

 private:
  int pid_ = -1;
};

// Polls pred every 100 ms until true or timeout; returns pred's last answer.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

std::string read_file(const std::string& path);
// Runs a command (no shell), returns its exit status.
int run(const std::vector<std::string>& argv);
// A scratch directory (mode 0755 so QEMU may reach files in it), removed at the end.
struct ScratchDir {
  std::string path;
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

// True when an RFB server at host:port accepts `password` (VNC authentication, libvncclient).
bool vnc_login(const std::string& host, int port, const std::string& password);

// Lines of a text file that contain `needle`.
std::vector<std::string> lines_with(const std::string& path, const std::string& needle);

}  // namespace labdesk::itest
