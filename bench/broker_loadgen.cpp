// Load generator: N virtual thin clients log in, hold their pushed-event connection (long-poll)
// and log out; then a steady request phase measures per-request latency at a fixed concurrency,
// against the broker and, in the same run, against an anchor URL (nginx serving a static JSON of
// the same size as the broker's answer). One JSON line of results per phase.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Target {
  std::string host = "127.0.0.1";
  std::string port;
};

struct Stats {
  std::vector<double> ms;
  std::vector<double> first_ms;
  std::vector<double> at;  // start of each request
  std::vector<std::pair<int, int>> which;  // connection and request number of each
  std::vector<double> sent_ms;  // from the start until the request was written (our own delay)
  std::size_t errors = 0;
  std::string last_error;
  std::mutex mu;  // the steady phase may run on several threads
  void add(Clock::time_point t0) {
    double v = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::lock_guard lock(mu);
    ms.push_back(v);
  }
  void add_request(Clock::time_point t0, Clock::time_point sent, int conn, int k) {
    double v = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::lock_guard lock(mu);
    sent_ms.push_back(std::chrono::duration<double, std::milli>(sent - t0).count());
    ms.push_back(v);
    at.push_back(std::chrono::duration<double, std::milli>(t0.time_since_epoch()).count());
    which.emplace_back(conn, k);
    if (k == 0) first_ms.push_back(v);
  }
  void fail(std::string what) {
    std::lock_guard lock(mu);
    ++errors;
    if (!what.empty()) last_error = std::move(what);
  }
  // On a copy: nth_element reorders, and `ms` must stay paired with `at` and `which` for the dump.
  double pct(double q) const {
    if (ms.empty()) return 0;
    auto v = ms;
    auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
  }
};

awaitable<bhttp::response<bhttp::string_body>> call(beast::tcp_stream& s, bhttp::verb verb,
                                                    const std::string& target, const std::string& body,
                                                    const std::string& token, std::chrono::seconds timeout,
                                                    Clock::time_point* sent = nullptr) {
  bhttp::request<bhttp::string_body> req{verb, target, 11};
  req.set(bhttp::field::host, "labdesk");
  if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
  if (!body.empty()) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  s.expires_after(timeout);
  co_await bhttp::async_write(s, req, use_awaitable);
  if (sent) *sent = Clock::now();
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  co_await bhttp::async_read(s, buf, res, use_awaitable);
  co_return res;
}

awaitable<void> connect(beast::tcp_stream& s, const Target& t) {
  asio::ip::tcp::endpoint ep(asio::ip::make_address(t.host), static_cast<unsigned short>(std::stoi(t.port)));
  s.expires_after(std::chrono::seconds(30));
  co_await s.async_connect(ep, use_awaitable);
}

struct Session {
  std::string id, token;
};

// Phase 1-3 for one virtual client: login, hold the events long-poll, logout.
awaitable<void> thin_client(int i, Target t, Stats& login, Stats& hold, Stats& logout,
                            std::atomic<int>& done) {
  beast::tcp_stream s(co_await asio::this_coro::executor);
  try {
    co_await connect(s, t);
    auto t0 = Clock::now();
    json body{{"user", "u" + std::to_string(i)}, {"password", "pw"}, {"client_id", "pc-" + std::to_string(i)}};
    auto r = co_await call(s, bhttp::verb::post, "/v1/login", body.dump(), "", std::chrono::seconds(600));
    if (r.result_int() != 200) throw std::runtime_error("login " + std::to_string(r.result_int()) + " " + r.body());
    login.add(t0);
    auto j = json::parse(r.body());
    Session sess{j["session"], j["token"]};
    t0 = Clock::now();
    r = co_await call(s, bhttp::verb::get, "/v1/sessions/" + sess.id + "/events?after=0", "", sess.token,
                      std::chrono::seconds(600));
    if (r.result_int() != 200) throw std::runtime_error("events " + std::to_string(r.result_int()));
    hold.add(t0);
    t0 = Clock::now();
    r = co_await call(s, bhttp::verb::post, "/v1/sessions/" + sess.id + "/logout", "", sess.token,
                      std::chrono::seconds(600));
    if (r.result_int() != 204) throw std::runtime_error("logout " + std::to_string(r.result_int()));
    logout.add(t0);
  } catch (const std::exception& e) {
    ++login.errors;
    login.last_error = e.what();
  }
  ++done;
}

// When each request is due in the paced steady phase: request k of connection c at
// start + (c / concurrency + k) * interval, so the connections together send at a fixed rate.
// Zero interval: closed loop (each request as soon as the previous answer is in).
struct Pace {
  Clock::time_point start;
  Clock::duration interval{};
  int concurrency = 1;
  Clock::time_point due(int conn, int k) const { return start + interval * conn / concurrency + interval * k; }
};

// Steady phase: `requests` sequential requests on one keep-alive connection. Paced, a request's
// latency counts from when it was due, so an answer that comes late and delays the next request
// is counted in full (no coordinated omission, as wrk2).
awaitable<void> steady(Target t, std::string target, std::string token, bhttp::verb verb, int conn,
                       int requests, Pace pace, Stats& st, std::atomic<int>& done) {
  beast::tcp_stream s(co_await asio::this_coro::executor);
  asio::steady_timer wait(co_await asio::this_coro::executor);
  try {
    co_await connect(s, t);
    for (int k = 0; k < requests; ++k) {
      auto t0 = Clock::now();
      if (pace.interval.count() > 0) {
        t0 = pace.due(conn, k);
        if (t0 > Clock::now()) {
          wait.expires_at(t0);
          co_await wait.async_wait(use_awaitable);
        }
      }
      Clock::time_point sent;
      auto r = co_await call(s, verb, target, verb == bhttp::verb::post ? "{}" : "", token, std::chrono::seconds(30), &sent);
      if (r.result_int() != 200) {
        st.fail("");
        continue;
      }
      st.add_request(t0, sent, conn, k);
    }
  } catch (const std::exception& e) {
    st.fail(e.what());
  }
  ++done;
}

long rss_kib(int pid, const char* field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
  }
  return -1;
}

void run_until(asio::io_context& io, std::atomic<int>& done, int n) {
  while (done < n) io.run_for(std::chrono::milliseconds(50));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"labdesk broker load generator"};
  Target broker, anchor;
  int clients = 3000, concurrency = 64, requests = 200, server_pid = 0, rounds = 1, threads = 1;
  std::string anchor_path = "/credential.json";
  app.add_option("--port", broker.port, "broker port on 127.0.0.1")->required();
  app.add_option("--clients", clients);
  app.add_option("--concurrency", concurrency, "connections in the steady phase");
  app.add_option("--requests", requests, "requests per connection in the steady phase");
  app.add_option("--anchor-port", anchor.port, "nginx port on 127.0.0.1 serving the same-size JSON");
  app.add_option("--anchor-path", anchor_path);
  app.add_option("--server-pid", server_pid, "report this process's memory");
  app.add_option("--threads", threads, "load generator threads in the steady phase (one saturates near 30,000 requests/s)");
  app.add_option("--rounds", rounds, "steady phases, broker and anchor alternately; the ratio is of the medians");
  double paced_fraction = 0;
  app.add_option("--paced-fraction", paced_fraction,
                 "then as many paced rounds, both at this fraction of the broker's closed-loop rate");
  CLI11_PARSE(app, argc, argv);
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);

  asio::io_context io;
  Stats login, hold, logout;
  std::atomic<int> done{0};
  auto t0 = Clock::now();
  for (int i = 0; i < clients; ++i) {
    asio::co_spawn(io, thin_client(i, broker, login, hold, logout, done), asio::detached);
  }
  // Sample the server's memory while every client holds its session.
  long held_rss = -1;
  while (done < clients) {
    io.run_for(std::chrono::milliseconds(100));
    if (server_pid && static_cast<int>(login.ms.size()) == clients && held_rss < 0) held_rss = rss_kib(server_pid, "VmRSS:");
  }
  double total_s = std::chrono::duration<double>(Clock::now() - t0).count();
  json result{{"phase", "sessions"}, {"clients", clients}, {"errors", login.errors},
              {"logins_per_s", static_cast<double>(login.ms.size()) / total_s},
              {"login_p50_ms", login.pct(0.5)}, {"login_p99_ms", login.pct(0.99)},
              {"hold_p50_s", hold.pct(0.5) / 1000}, {"logout_p99_ms", logout.pct(0.99)},
              {"total_s", total_s}};
  if (!login.last_error.empty()) result["last_error"] = login.last_error;
  if (server_pid) {
    result["server_rss_mib_holding"] = static_cast<double>(held_rss) / 1024;
    result["server_peak_rss_mib"] = static_cast<double>(rss_kib(server_pid, "VmHWM:")) / 1024;
  }
  std::cout << result.dump() << std::endl;

  // Steady phase: one long-lived session, many credential requests at a fixed concurrency.
  std::string session, token;
  {
    asio::io_context once;
    std::string out;
    asio::co_spawn(once, [&]() -> awaitable<void> {
      beast::tcp_stream s(co_await asio::this_coro::executor);
      co_await connect(s, broker);
      auto r = co_await call(s, bhttp::verb::post, "/v1/login", R"({"user":"u0","password":"pw","client_id":"steady"})", "", std::chrono::seconds(60));
      auto j = json::parse(r.body());
      session = j["session"];
      token = j["token"];
    }, asio::detached);
    once.run();
  }
  auto measure = [&](const Target& t, const std::string& target, const std::string& tok, bhttp::verb verb,
                     const std::string& name, double rate) {
    Stats st;
    std::atomic<int> fin{0};
    auto s0 = Clock::now();
    Pace pace;
    pace.concurrency = concurrency;
    if (rate > 0) {
      // Every connection is open before the first request is due (accepting 3,000 takes a while).
      pace.start = s0 + std::chrono::seconds(1) + std::chrono::microseconds(300) * concurrency;
      pace.interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(concurrency / rate));
    }
    for (int c = 0; c < concurrency; ++c) asio::co_spawn(asio::make_strand(io), steady(t, target, tok, verb, c, requests, pace, st, fin), asio::detached);  // a strand: the stream's timer and I/O never run at once
    io.restart();
    std::vector<std::thread> helpers;
    for (int i = 1; i < threads; ++i) helpers.emplace_back([&] { run_until(io, fin, concurrency); });
    run_until(io, fin, concurrency);
    for (auto& h : helpers) h.join();
    double secs = std::chrono::duration<double>(Clock::now() - (rate > 0 ? pace.start : s0)).count();
    json r{{"phase", name}, {"concurrency", concurrency}, {"requests", st.ms.size()}, {"errors", st.errors},
           {"req_per_s", static_cast<double>(st.ms.size()) / secs}, {"p50_ms", st.pct(0.5)}, {"p99_ms", st.pct(0.99)}};
    if (const char* dump = std::getenv("LATENCY_DUMP")) {
      std::ofstream f(std::string(dump) + "-" + name);
      for (std::size_t i = 0; i < st.at.size(); ++i) {
        f << std::fixed << st.at[i] << " " << st.ms[i] << " " << st.which[i].first << " " << st.which[i].second
          << " " << st.sent_ms[i] << "\n";
      }
    }
    Stats first;
    first.ms = st.first_ms;
    r["first_request_p50_ms"] = first.pct(0.5);
    r["first_request_p99_ms"] = first.pct(0.99);
    if (rate > 0) r["paced_rate"] = rate;
    std::cout << r.dump() << std::endl;
    return r;
  };
  // Alternate broker and anchor so drifting background load hits both alike; medians of rounds.
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  auto compare = [&](double rate, const char* label) {
    std::vector<double> ours_p99, theirs_p99, ours_rate, theirs_rate;
    std::string suffix = rate > 0 ? "_paced" : "";
    for (int r = 0; r < rounds; ++r) {
      auto ours = measure(broker, "/v1/sessions/" + session + "/credential", token, bhttp::verb::post,
                          "broker_credential" + suffix, rate);
      ours_p99.push_back(ours["p99_ms"].get<double>());
      ours_rate.push_back(ours["req_per_s"].get<double>());
      if (anchor.port.empty()) continue;
      auto theirs = measure(anchor, anchor_path, "", bhttp::verb::get, "nginx_static_json" + suffix, rate);
      theirs_p99.push_back(theirs["p99_ms"].get<double>());
      theirs_rate.push_back(theirs["req_per_s"].get<double>());
    }
    if (!anchor.port.empty()) {
      json ratio{{"phase", label}, {"rounds", rounds},
                 {"broker_p99_ms_median", median(ours_p99)}, {"nginx_p99_ms_median", median(theirs_p99)},
                 {"p99_broker_over_nginx", median(ours_p99) / std::max(1e-9, median(theirs_p99))},
                 {"rate_broker_over_nginx", median(ours_rate) / std::max(1e-9, median(theirs_rate))}};
      if (rate > 0) ratio["paced_rate"] = rate;
      std::cout << ratio.dump() << std::endl;
    }
    return median(ours_rate);
  };
  // Closed loop: as fast as each side answers (both limited by this generator's own CPU on a
  // small machine). Paced: both at the same request rate, below what either can take.
  double broker_rate = compare(0, "ratio");
  if (paced_fraction > 0) compare(paced_fraction * broker_rate, "ratio_same_rate");
  return login.errors == 0 ? 0 : 1;
}
