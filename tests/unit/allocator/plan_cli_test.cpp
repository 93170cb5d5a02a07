#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "plan_cli.hpp"

namespace {

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run run(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), "labdesk-plan");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::istringstream in(input);
  std::ostringstream out, err;
  int code = labdesk::plan_cli::run(static_cast<int>(argv.size()), argv.data(), {in, out, err});
  return {code, out.str(), err.str()};
}

std::vector<nlohmann::json> lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream s(text);
  for (std::string l; std::getline(s, l);) out.push_back(nlohmann::json::parse(l));
  return out;
}

}  // namespace

TEST_CASE("table prints one object per user count") {
  auto r = run({"table", "--hosts", "4096,4096", "--tiers", "4096,2048,1024,512", "--users", "16"});
  REQUIRE(r.code == 0);
  auto rows = nlohmann::json::parse(r.out);
  REQUIRE(rows.size() == 16);
  CHECK(rows[0] == nlohmann::json::parse(R"({"users":1,"tier":0,"alloc_mib":[4096],"free_mib":4096})"));
  CHECK(rows[2]["alloc_mib"] == nlohmann::json::parse("[2048,2048,2048]"));
  CHECK(rows[15]["tier"] == 3);
  CHECK(rows[15]["free_mib"] == 0);
}

TEST_CASE("table past the last slot ends with a no-capacity row") {
  auto r = run({"table", "--hosts", "4096,4096", "--tiers", "4096,2048,1024,512", "--users", "17"});
  REQUIRE(r.code == 0);
  auto rows = nlohmann::json::parse(r.out);
  REQUIRE(rows.size() == 17);
  CHECK(rows[16]["error"].get<std::string>().find("no capacity") != std::string::npos);
}

TEST_CASE("simulate prints exactly one line per event, errors included") {
  std::string input =
      "{\"arrive\":\"u1\"}\n"
      "{\"arrive\":\"u2\"}\n"
      "this is not json\n"
      "{\"arrive\":\"u3\"}\n"
      "{\"depart\":\"nobody\"}\n"
      "{\"leave\":\"u1\"}\n"
      "{\"depart\":\"u2\"}\n"
      "{\"grow\":true}\n";
  auto r = run({"simulate", "--hosts", "4096,4096", "--tiers", "4096,2048,1024,512"}, input);
  CHECK(r.code == 1);
  auto out = lines(r.out);
  REQUIRE(out.size() == 8);
  CHECK(out[0]["steps"][0] == nlohmann::json::parse(R"({"op":"start","user":"u1","host":0,"mib":4096})"));
  CHECK(out[0]["users"] == nlohmann::json::parse(R"([{"user":"u1","host":0,"mib":4096}])"));
  CHECK(out[2]["error"] == "not valid JSON");
  CHECK(out[3]["steps"].size() == 5);  // u1's handoff (start, switch, destroy) + u3's start, switch
  CHECK(out[3]["users"].size() == 3);
  CHECK(out[4]["error"] == "user 'nobody' is not connected");
  CHECK(out[5]["error"].get<std::string>().find("unknown event 'leave'") != std::string::npos);
  CHECK(out[6]["steps"][0]["op"] == "destroy");
  CHECK(out[7]["users"].size() == 2);
  for (const auto& l : out) {
    CHECK(l.contains("hosts"));
    CHECK(l["hosts"].size() == 2);
  }
  CHECK(r.err.find("line 3: not valid JSON") != std::string::npos);
  CHECK(r.err.find("line 5: user 'nobody' is not connected") != std::string::npos);
  CHECK(r.err.find("line 6: unknown event 'leave'") != std::string::npos);
}

TEST_CASE("bad arguments name the problem and exit 2") {
  auto r = run({"table", "--hosts", "4096", "--tiers", "1024,2048"});
  CHECK(r.code == 2);
  CHECK(r.err.find("tiers not descending") != std::string::npos);
  r = run({"table", "--hosts", "1024", "--tiers", "4096,512"});
  CHECK(r.code == 2);
  CHECK(r.err.find("larger than every host") != std::string::npos);
  r = run({"table", "--hosts", "4096", "--mode", "magic"});
  CHECK(r.code == 2);
  CHECK(r.err.find("unknown tiers.mode 'magic'") != std::string::npos);
  r = run({"table", "--tiers", "512"});
  CHECK(r.code == 2);
  CHECK(r.err.find("no hosts") != std::string::npos);
  r = run({"table", "--hosts", "abc"});
  CHECK(r.code == 2);
}

TEST_CASE("--config reads the admin config, flags override it") {
  std::string path = LABDESK_BINARY_DIR "/plan_cli_test.toml";
  std::ofstream(path) << "[tiers]\nmib = [2048, 1024]\nmode = \"balloon\"\n\n"
                         "[[hosts]]\nname = \"a\"\ncapacity_mib = 2048\n\n"
                         "[[hosts]]\nname = \"b\"\ncapacity_mib = 2048\n";
  auto r = run({"table", "--config", path, "--users", "3"});
  REQUIRE(r.code == 0);
  auto rows = nlohmann::json::parse(r.out);
  CHECK(rows[0]["alloc_mib"] == nlohmann::json::parse("[2048]"));
  CHECK(rows[1]["alloc_mib"] == nlohmann::json::parse("[2048,1024]"));
  r = run({"simulate", "--config", path}, "{\"arrive\":\"a\"}\n{\"arrive\":\"b\"}\n{\"arrive\":\"c\"}\n");
  CHECK(lines(r.out)[2]["steps"][0]["op"] == "resize");  // balloon from the file
  r = run({"table", "--config", path, "--tiers", "1024", "--users", "1"});
  CHECK(nlohmann::json::parse(r.out)[0]["alloc_mib"] == nlohmann::json::parse("[1024]"));
  r = run({"check", "--config", path});
  CHECK(r.code == 0);
  // The boot-server's whole file: the planner's sections are read, the rest left to it.
  r = run({"check", "--config", LABDESK_SOURCE_DIR "/docs/examples/lab.toml"});
  CHECK(r.code == 0);
  CHECK(r.out.find("config ok: [tiers], [placement], [[hosts]]") == 0);
  r = run({"check", "--config", "/nonexistent/labdesk.toml"});
  CHECK(r.code == 2);
  CHECK(r.err.find("cannot read the config file") != std::string::npos);
}
