#include <doctest/doctest.h>

#include "../../common/golden.hpp"
#include "../fixtures.hpp"
#include "nat/forward_table.hpp"
#include "labdesk/common/log.hpp"

namespace {

using namespace labdesk;

struct RecordingNft final : boot::NftRunner {
  std::vector<nlohmann::json> batches;
  bool fail_next = false;
  Result<void> run(const nlohmann::json& batch) override {
    if (fail_next) {
      fail_next = false;
      return fail("nftables", "nftables rejected the ruleset: 'test'", 500);
    }
    batches.push_back(batch);
    return {};
  }
};

const boot::Forward kA{15900, "10.77.0.101", "10.88.0.2", 5900};

TEST_CASE("nft ruleset (golden): own table replaced atomically, maps keyed by client ip and port") {
  const auto spec = boot::nat_spec(test::lab());
  const auto rules = boot::render_ruleset(spec, {kA, {15901, "10.77.0.102", "10.88.0.3", 5901}});
  CHECK(test::golden("tests/golden/boot-server/nft-ruleset.json", rules.dump(1) + "\n") == "");
  const auto& cmds = rules["nftables"];
  CHECK(cmds[0].contains("add"));
  CHECK(cmds[1]["delete"]["table"]["name"] == "labdesk");
  for (const auto& c : cmds) {
    // Nothing outside labdesk's table, never a flush of the whole ruleset.
    CHECK(!c.dump().contains("\"flush\""));
    if (c.begin()->contains("table")) CHECK((*c.begin())["table"]["name"] == "labdesk");
  }
  CHECK(test::golden("tests/golden/boot-server/nft-change.json",
                     boot::render_change(spec, {kA}, {{15900, "10.77.0.101", "10.88.0.4", 5902}}).dump(1) + "\n") == "");
}

TEST_CASE("forwards are checked against the spec") {
  const auto spec = boot::nat_spec(test::lab());
  CHECK(boot::check_forward(spec, kA));
  auto f = kA;
  f.lab_port = 80;
  CHECK(boot::check_forward(spec, f).error().message.find("outside nat.port_min") != std::string::npos);
  f = kA;
  f.client_ip = "10.78.0.1";
  CHECK(boot::check_forward(spec, f).error().message.find("not in the lab subnet") != std::string::npos);
  f = kA;
  f.vnc_host = "host";
  CHECK(boot::check_forward(spec, f).error().message.find("vnc host 'host' is not an IPv4 address") != std::string::npos);
  f = kA;
  f.vnc_port = 70000;
  CHECK(boot::check_forward(spec, f).error().message.find("outside 1..65535") != std::string::npos);
}

TEST_CASE("ForwardTable: one rebuild, upsert switches one forward, remove, failures keep state") {
  RecordingNft nft;
  boot::ForwardTable table(boot::nat_spec(test::lab()), nft, log::make_logger("test", spdlog::level::off));
  broker::ForwardPort& port = table;  // what the broker holds
  CHECK_FALSE(table.applied());
  // The broker's reconciliation: one forward outside the range now (the config changed) is left
  // out and named; the others are in place.
  auto r = port.rebuild({kA, {16999, "10.77.0.9", "10.88.0.2", 5900}});
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("1 forward(s) left out") != std::string::npos);
  CHECK(r.error().message.find("'16999'") != std::string::npos);
  CHECK(table.applied());
  CHECK(table.list() == std::vector<boot::Forward>{kA});
  REQUIRE(nft.batches.size() == 1);

  // Handoff: one batch deleting the old elements and adding the new ones.
  boot::Forward moved = kA;
  moved.vnc_port = 5901;
  REQUIRE(port.upsert(moved));
  const auto& b = nft.batches.back()["nftables"];
  REQUIRE(b.size() == 4);
  CHECK(b[0].contains("delete"));
  CHECK(b[3]["add"]["element"]["elem"][0][1] == 5901);
  // Same again: nothing to do.
  const auto n = nft.batches.size();
  REQUIRE(port.upsert(moved));
  CHECK(nft.batches.size() == n);
  // Roam: the same port, another PC.
  REQUIRE(port.upsert({15900, "10.77.0.102", "10.88.0.2", 5901}));
  CHECK(table.find(15900)->client_ip == "10.77.0.102");
  // A bad forward is refused before nftables sees it.
  CHECK(port.upsert({15901, "10.77.0.103", "vm-host", 5901}).error().code == "bad_forward");
  // nftables refuses: the table does not change.
  nft.fail_next = true;
  CHECK(!port.upsert({15960, "10.77.0.103", "10.88.0.2", 5903}));
  CHECK(!table.find(15960));
  REQUIRE(port.remove(15900));
  CHECK(table.list().empty());
  CHECK(port.remove(15900));  // already gone: fine
  CHECK(port.remove(70000));  // not a port: nothing to remove
}

TEST_CASE("ForwardTable: a rebuild that finds what is in place sends nftables nothing, a bad forward never keeps others stale") {
  RecordingNft nft;
  boot::ForwardTable table(boot::nat_spec(test::lab()), nft, log::make_logger("test", spdlog::level::off));
  broker::ForwardPort& p = table;
  REQUIRE(p.rebuild({}));  // the first build always renders the table, even empty
  CHECK(nft.batches.size() == 1);
  REQUIRE(p.upsert({15900, "10.77.0.101", "10.88.0.2", 5900}));
  REQUIRE(p.upsert({15901, "10.77.0.102", "10.88.0.2", 5901}));
  REQUIRE(p.rebuild({{15902, "10.77.0.103", "10.88.0.2", 5902}}));
  CHECK(table.list().size() == 1);
  // One unusable forward (not an IPv4 address, no VNC port, a port given twice) is left out and
  // reported; the others still replace the old table (no stale forward of an ended session).
  auto r = p.rebuild({{15903, "10.77.0.104", "vm-host", 5903}, {15904, "10.77.0.105", "10.88.0.2", 0},
                      {15905, "10.77.0.106", "10.88.0.2", 5905}, {15905, "10.77.0.107", "10.88.0.2", 5906}});
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("3 forward(s) left out") != std::string::npos);
  CHECK_FALSE(table.find(15902));
  CHECK(table.find(15905)->client_ip == "10.77.0.106");
  CHECK(table.list().size() == 1);
  const auto batches = nft.batches.size();
  REQUIRE_FALSE(p.rebuild({{15905, "10.77.0.106", "10.88.0.2", 5905}, {15906, "10.77.0.9", "h", 1}}));
  CHECK(nft.batches.size() == batches);
  REQUIRE(p.rebuild({{15905, "10.77.0.106", "10.88.0.2", 5905}}));
  CHECK(nft.batches.size() == batches);
}

TEST_CASE("ForwardTable: a config reload re-renders with the forwards in place, nat turned off removes the table and sends nothing more") {
  RecordingNft nft;
  auto spec = boot::nat_spec(test::lab());
  boot::ForwardTable table(spec, nft, log::make_logger("test", spdlog::level::off));
  REQUIRE(table.rebuild({kA}));
  REQUIRE(table.respec(spec));  // unchanged: nothing
  CHECK(nft.batches.size() == 1);
  auto narrower = spec;
  narrower.lab_tcp_ports.push_back(2222);
  REQUIRE(table.respec(narrower));
  REQUIRE(nft.batches.size() == 2);
  CHECK(nft.batches.back().dump().find("10.77.0.101") != std::string::npos);  // kA is still there
  auto off = narrower;
  off.enabled = false;
  REQUIRE(table.respec(off));
  REQUIRE(nft.batches.size() == 3);
  CHECK(nft.batches.back()["nftables"][1].contains("delete"));  // the table goes
  CHECK_FALSE(table.applied());
  // Sessions still start and end with nat off: the table follows them without nftables.
  REQUIRE(table.upsert({15901, "10.77.0.102", "10.88.0.2", 5901}));
  REQUIRE(table.remove(15900));
  CHECK(nft.batches.size() == 3);
  // Turned on again: one whole table with the forwards of the moment.
  REQUIRE(table.respec(narrower));
  REQUIRE(nft.batches.size() == 4);
  CHECK(nft.batches.back().dump().find("10.77.0.102") != std::string::npos);
  CHECK(nft.batches.back().dump().find("10.77.0.101") == std::string::npos);
}

}  // namespace
