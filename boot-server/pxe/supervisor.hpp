// dnsmasq as a supervised child: started in the foreground, killed with us (PR_SET_PDEATHSIG),
// restarted with exponential backoff when it dies, health-checked (alive and bound to the DHCP
// port), sent SIGHUP when only reservations changed, restarted when its config changed
// (dnsmasq re-reads dhcp-hostsfile on SIGHUP but never its main config).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

namespace labdesk::boot {

struct SupervisorOptions {
  std::string binary = "dnsmasq";
  std::string conf_file;
  std::string log_file;  // dnsmasq's log and stderr go here
  std::chrono::milliseconds min_backoff{250};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds poll{200};
  std::chrono::seconds health_every{5};
  std::chrono::seconds stable_after{60};  // running this long resets the backoff
  int health_misses = 3;                  // consecutive failed checks before a forced restart
};

class DnsmasqSupervisor {
 public:
  DnsmasqSupervisor(boost::asio::io_context& io, SupervisorOptions options, std::shared_ptr<spdlog::logger> log);
  ~DnsmasqSupervisor();
  DnsmasqSupervisor(const DnsmasqSupervisor&) = delete;
  DnsmasqSupervisor& operator=(const DnsmasqSupervisor&) = delete;

  // `dnsmasq --test` on the config: "" when fine, else dnsmasq's complaint.
  static std::string test_config(const std::string& binary, const std::string& conf_file);

  // Starts dnsmasq and waits until it serves DHCP (or `timeout`); throws labdesk::Failure with
  // dnsmasq's last log line if it exits or never binds. Then supervises it from the io_context.
  void start(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  void reload_hosts();  // SIGHUP
  void restart();       // config changed: stop and start again now
  // SIGTERM, then SIGKILL after `grace`; no more restarts.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] int restarts() const { return restarts_; }
  [[nodiscard]] bool running() const { return pid_ > 0; }
  // Alive and bound to UDP port 67 in its network namespace.
  [[nodiscard]] bool healthy() const;

 private:
  pid_t spawn();
  // dnsmasq drops root, which clears PR_SET_PDEATHSIG: after a crash of the boot-server its
  // dnsmasq keeps running. The PID is kept in CONF_FILE.pid; a start kills a dnsmasq left there
  // (checked by its command line) so two never answer DHCP on the lab at once.
  void kill_stale() const;
  [[nodiscard]] std::string pid_file() const { return opt_.conf_file + ".pid"; }
  void watch();
  void schedule_restart(const std::string& why);
  [[nodiscard]] std::string last_log_line() const;

  boost::asio::io_context& io_;
  SupervisorOptions opt_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::steady_timer poll_timer_;
  boost::asio::steady_timer restart_timer_;
  pid_t pid_ = -1;
  bool stopping_ = false;
  int restarts_ = 0;
  int misses_ = 0;
  std::chrono::milliseconds backoff_;
  std::chrono::steady_clock::time_point started_at_;
  std::chrono::steady_clock::time_point last_health_;
};

}  // namespace labdesk::boot
