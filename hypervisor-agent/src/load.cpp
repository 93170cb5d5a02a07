#include "labdesk/agent/load.hpp"

#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <map>
#include <sstream>

#include "labdesk/common/file.hpp"

namespace labdesk::agent {
namespace {

std::string slurp(const std::string& path) { return read_file(path).value_or(""); }

std::int64_t link_speed(const std::string& name) {
  std::ifstream in("/sys/class/net/" + name + "/speed");
  long long v = 0;
  if (in >> v && v > 0) return v;
  return 0;
}

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

CpuTimes parse_proc_stat(const std::string& text) {
  std::istringstream in(text);
  std::string label;
  in >> label;
  CpuTimes t;
  if (label != "cpu") return t;
  // user nice system idle iowait irq softirq steal (guest time is already in user/nice)
  std::uint64_t v[8] = {};
  for (auto& x : v) in >> x;
  for (auto x : v) t.total += x;
  t.busy = t.total - v[3] - v[4];
  return t;
}

std::pair<std::int64_t, std::int64_t> parse_meminfo(const std::string& text) {
  std::istringstream in(text);
  std::string key;
  std::int64_t value = 0;
  std::string unit;
  std::int64_t total = 0, available = -1, free = 0, buffers = 0, cached = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    if (!(l >> key >> value)) continue;
    if (key == "MemTotal:") total = value;
    else if (key == "MemAvailable:") available = value;
    else if (key == "MemFree:") free = value;
    else if (key == "Buffers:") buffers = value;
    else if (key == "Cached:") cached = value;
  }
  if (available < 0) available = free + buffers + cached;
  return {total, available};
}

std::vector<NicCounters> read_nics() {
  std::vector<NicCounters> out;
  nl_sock* sk = nl_socket_alloc();
  if (!sk) return out;
  nl_cache* cache = nullptr;
  if (nl_connect(sk, NETLINK_ROUTE) == 0 && rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache) == 0) {
    for (nl_object* o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
      auto* link = reinterpret_cast<rtnl_link*>(o);
      NicCounters c;
      c.name = rtnl_link_get_name(link) ? rtnl_link_get_name(link) : "";
      c.rx = rtnl_link_get_stat(link, RTNL_LINK_RX_BYTES);
      c.tx = rtnl_link_get_stat(link, RTNL_LINK_TX_BYTES);
      c.speed_mbps = link_speed(c.name);
      out.push_back(std::move(c));
    }
    nl_cache_free(cache);
  }
  nl_socket_free(sk);
  return out;
}

LoadSampler::LoadSampler(std::string host, std::chrono::milliseconds sample, std::chrono::milliseconds cache,
                         VmSource vms, CommittedSource committed, std::shared_ptr<spdlog::logger> log)
    : host_(std::move(host)), sample_(sample), cache_(cache), vms_(std::move(vms)),
      committed_(std::move(committed)), log_(std::move(log)) {
  thread_ = std::thread([this] { run(); });
}

LoadSampler::~LoadSampler() {
  {
    std::lock_guard l(mutex_);
    stopping_ = true;
    cv_.notify_all();
  }
  thread_.join();
}

void LoadSampler::request(Reply reply) {
  std::unique_lock l(mutex_);
  if (last_ && std::chrono::steady_clock::now() - last_at_ <= cache_) {
    auto copy = *last_;
    l.unlock();
    reply(copy);
    return;
  }
  waiting_.push_back(std::move(reply));
  cv_.notify_all();
}

api::agent::LoadReport LoadSampler::report() {
  std::promise<api::agent::LoadReport> p;
  auto f = p.get_future();
  request([&p](const api::agent::LoadReport& r) { p.set_value(r); });
  return f.get();
}

std::uint64_t LoadSampler::samples_taken() const {
  std::lock_guard l(mutex_);
  return samples_;
}

void LoadSampler::run() {
  std::unique_lock l(mutex_);
  while (true) {
    cv_.wait(l, [&] { return stopping_ || !waiting_.empty(); });
    if (stopping_) {
      // Nobody is left waiting for long: answer with what there is.
      auto pending = std::move(waiting_);
      l.unlock();
      for (auto& r : pending) r(last_.value_or(api::agent::LoadReport{.host = host_}));
      return;
    }
    l.unlock();
    api::agent::LoadReport r;
    try {
      r = sample();
    } catch (const std::exception& e) {
      log_->error("load sample failed: '{}'", e.what());
      r.host = host_;
    }
    l.lock();
    // Everyone who asked before or during this sample shares it.
    last_ = r;
    last_at_ = std::chrono::steady_clock::now();
    ++samples_;
    auto pending = std::move(waiting_);
    waiting_.clear();
    l.unlock();
    for (auto& reply : pending) reply(r);
    l.lock();
  }
}

api::agent::LoadReport LoadSampler::sample() {
  auto t0 = std::chrono::steady_clock::now();
  CpuTimes c0 = parse_proc_stat(slurp("/proc/stat"));
  auto n0 = read_nics();
  auto v0 = vms_ ? vms_() : std::vector<VmSample>{};
  {
    std::unique_lock l(mutex_);
    cv_.wait_for(l, sample_, [&] { return stopping_; });
  }
  auto t1 = std::chrono::steady_clock::now();
  CpuTimes c1 = parse_proc_stat(slurp("/proc/stat"));
  auto n1 = read_nics();
  auto v1 = vms_ ? vms_() : std::vector<VmSample>{};
  const double wall = std::max(seconds(t1 - t0), 1e-6);

  api::agent::LoadReport r;
  r.host = host_;
  r.sample_window_s = wall;
  r.cpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  if (c1.total > c0.total) {
    r.cpu_pct = 100.0 * static_cast<double>(c1.busy - c0.busy) / static_cast<double>(c1.total - c0.total);
  }
  auto [total_kib, avail_kib] = parse_meminfo(slurp("/proc/meminfo"));
  r.mem_total_mib = total_kib / 1024;
  r.mem_used_mib = (total_kib - avail_kib) / 1024;
  r.committed_mib = committed_ ? committed_() : 0;

  std::map<std::string, NicCounters> before;
  for (auto& n : n0) before[n.name] = n;
  for (const auto& n : n1) {
    auto it = before.find(n.name);
    if (it == before.end()) continue;
    api::agent::NicLoad nl;
    nl.name = n.name;
    nl.rx_bytes_per_s = static_cast<double>(n.rx - std::min(n.rx, it->second.rx)) / wall;
    nl.tx_bytes_per_s = static_cast<double>(n.tx - std::min(n.tx, it->second.tx)) / wall;
    nl.speed_mbps = n.speed_mbps;
    if (n.speed_mbps > 0) {
      double capacity = static_cast<double>(n.speed_mbps) * 1e6 / 8.0;
      nl.utilization = std::min(1.0, std::max(nl.rx_bytes_per_s, nl.tx_bytes_per_s) / capacity);
    }
    r.nics.push_back(std::move(nl));
  }

  std::map<std::string, VmSample> vbefore;
  for (auto& v : v0) vbefore[v.name] = v;
  for (const auto& v : v1) {
    api::agent::DesktopLoad d;
    d.name = v.name;
    d.memory_mib = v.memory_kib / 1024;
    if (auto it = vbefore.find(v.name); it != vbefore.end() && v.cpu_time_ns >= it->second.cpu_time_ns) {
      d.cpu_pct = 100.0 * static_cast<double>(v.cpu_time_ns - it->second.cpu_time_ns) / (wall * 1e9);
    }
    r.desktops.push_back(std::move(d));
  }
  return r;
}

}  // namespace labdesk::agent
