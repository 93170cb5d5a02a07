#include <doctest/doctest.h>

#include <sstream>

#include "../broker/broker_lab.hpp"
#include "ctl.hpp"
#include "labdesk/http/client.hpp"

using namespace labdesk;

namespace {
struct Run {
  int code;
  std::string out, err;
};
Run labdeskctl(const std::string& url, std::vector<std::string> args, const std::string& in = "") {
  args.insert(args.begin(), {"labdeskctl", "--server", url, "--token", "admin-token"});
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  std::istringstream i(in);
  std::ostringstream o, e;
  int code = labdesk::ctl::run(static_cast<int>(argv.size()), argv.data(), {i, o, e});
  return {code, o.str(), e.str()};
}
}  // namespace

TEST_CASE("labdeskctl: tables for people, JSON for scripts, clear errors") {
  test::ServedLab lab;
  http::Client c(lab.url());
  REQUIRE(c.post_json("/v1/login", {{"user", "alice"}, {"password", "alice-pw"}, {"client_id", "pc-7"}}).has_value());
  auto s = labdeskctl(lab.url(), {"sessions"});
  CHECK(s.code == 0);
  CHECK(s.out.find("USER") != std::string::npos);
  CHECK(s.out.find("pc-7") != std::string::npos);
  auto h = labdeskctl(lab.url(), {"--json", "hosts"});
  CHECK(nlohmann::json::parse(h.out).size() == 2);
  auto add = labdeskctl(lab.url(), {"useradd", "erin"}, "erin-secret\n");
  CHECK(add.code == 0);
  CHECK(c.post_json("/v1/login", {{"user", "erin"}, {"password", "erin-secret"}}).has_value());
  auto t = labdeskctl(lab.url(), {"tiers"});
  CHECK(t.out.find("UP TO USERS") != std::string::npos);
  auto missing = labdeskctl(lab.url(), {"end", "no-such-session"});
  CHECK(missing.code == 1);
  CHECK(missing.err.find("no session 'no-such-session'") != std::string::npos);
  auto down = labdeskctl("http://127.0.0.1:9", {"hosts"});
  CHECK(down.code == 3);
  auto bad = labdeskctl(lab.url(), {"frobnicate"});
  CHECK(bad.code == 2);
  auto ev = labdeskctl(lab.url(), {"events"});
  CHECK(ev.out.find("login") != std::string::npos);
  // useradd refuses a name in use unless --replace; userdel insists on a choice for the data.
  auto taken = labdeskctl(lab.url(), {"useradd", "erin"}, "other\n");
  CHECK(taken.code == 1);
  CHECK(taken.err.find("--replace") != std::string::npos);
  CHECK(labdeskctl(lab.url(), {"useradd", "--replace", "erin"}, "other\n").code == 0);
  auto vague = labdeskctl(lab.url(), {"userdel", "erin"});
  CHECK(vague.code == 2);
  CHECK(vague.err.find("--keep-data") != std::string::npos);
  CHECK(labdeskctl(lab.url(), {"userdel", "erin", "--keep-data", "--delete-data"}).code == 2);
  auto del = labdeskctl(lab.url(), {"userdel", "erin", "--keep-data"});
  CHECK(del.code == 0);
  CHECK(del.out.find("data archived") != std::string::npos);
}
