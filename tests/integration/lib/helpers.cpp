#include "helpers.hpp"

#include <fcntl.h>
#include <rfb/rfbclient.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace labdesk::itest {

Child::Child(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(args[0], args.data());
    _exit(127);
  }
}

Child::~Child() {
  if (running()) stop(SIGKILL, std::chrono::seconds(5));
}

bool Child::running() const {
  if (pid_ <= 0 || kill(pid_, 0) != 0) return false;
  // An exited child stays a zombie until reaped, and kill() still finds it: ask without reaping.
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

int Child::stop(int sig, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  auto end = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int run(const std::vector<std::string>& argv) {
  Child c(argv, "/dev/null");
  int status = 0;
  waitpid(c.pid(), &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

ScratchDir::ScratchDir() {
  std::string tmpl = "/var/tmp/labdesk-itest-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path = tmpl;
  std::filesystem::permissions(path, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                         std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                         std::filesystem::perms::others_exec);
}

ScratchDir::~ScratchDir() {
  if (std::getenv("LABDESK_KEEP")) return;
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

namespace {
char* give_password(rfbClient* c) {
  auto* pw = static_cast<const std::string*>(rfbClientGetClientData(c, reinterpret_cast<void*>(&give_password)));
  return strdup(pw ? pw->c_str() : "");
}
void quiet(const char*, ...) {}
}  // namespace

bool vnc_login(const std::string& host, int port, const std::string& password) {
  rfbClientLog = quiet;
  rfbClientErr = quiet;
  rfbClient* c = rfbGetClient(8, 3, 4);
  free(c->serverHost);  // rfbGetClient's placeholder ""
  c->serverHost = strdup(host.c_str());
  c->serverPort = port;
  c->GetPassword = give_password;
  rfbClientSetClientData(c, reinterpret_cast<void*>(&give_password), const_cast<std::string*>(&password));
  if (!rfbInitClient(c, nullptr, nullptr)) return false;  // it cleans up after itself on failure
  free(c->frameBuffer);  // allocated for us by rfbInitClient; rfbClientCleanup leaves it
  c->frameBuffer = nullptr;
  rfbClientCleanup(c);
  return true;
}

std::vector<std::string> lines_with(const std::string& path, const std::string& needle) {
  std::istringstream in(read_file(path));
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

}  // namespace labdesk::itest
