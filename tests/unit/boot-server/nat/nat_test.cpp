#include <doctest/doctest.h>

#include "../../common/golden.hpp"
#include "../fixtures.hpp"
#include "nat/broker_forwards.hpp"
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

const boot::Forward kA{15900, "s1", "10.77.0.101", "10.88.0.2", 5900};

TEST_CASE("nft ruleset (golden): own table replaced atomically, maps keyed by client ip and port") {
  const auto spec = boot::nat_spec(test::lab());
  const auto rules = boot::render_ruleset(spec, {kA, {15901, "s2", "10.77.0.102", "10.88.0.3", 5901}});
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
                     boot::render_change(spec, {kA}, {{15900, "s1", "10.77.0.101", "10.88.0.4", 5902}}).dump(1) + "\n") == "");
}

TEST_CASE("forwards are checked against the spec") {
  const auto spec = boot::nat_spec(test::lab());
  CHECK(boot::check_forward(spec, kA));
  auto f = kA;
  f.port = 80;
  CHECK(boot::check_forward(spec, f).error().message.find("outside nat.port_min") != std::string::npos);
  f = kA;
  f.client_ip = "10.78.0.1";
  CHECK(boot::check_forward(spec, f).error().message.find("not in the lab subnet") != std::string::npos);
  f = kA;
  f.target_ip = "host";
  CHECK(!boot::check_forward(spec, f));
}

TEST_CASE("ForwardTable: rebuild from the store, upsert switches one forward, remove, failures keep state") {
  auto path = std::filesystem::temp_directory_path() / ("labdesk-fwd-" + std::to_string(::getpid()) + ".sqlite");
  std::filesystem::remove(path);
  auto log = log::make_logger("test", spdlog::level::off);
  boot::Store store(path.string());
  store.put_forward(kA);
  store.put_forward({16999, "stale", "10.77.0.9", "10.88.0.2", 5900});  // outside the range now
  RecordingNft nft;
  boot::ForwardTable table(boot::nat_spec(test::lab()), store, nft, log);
  REQUIRE(table.rebuild());
  CHECK(table.list().size() == 1);
  CHECK(store.forwards().size() == 1);  // the stale one is gone from the store too

  // Handoff: one batch deleting the old elements and adding the new ones.
  boot::Forward moved = kA;
  moved.target_port = 5901;
  REQUIRE(table.upsert(moved));
  const auto& b = nft.batches.back()["nftables"];
  REQUIRE(b.size() == 4);
  CHECK(b[0].contains("delete"));
  CHECK(b[3]["add"]["element"]["elem"][0][1] == 5901);
  CHECK(store.forwards().at(0).target_port == 5901);
  // Same again: nothing to do.
  const auto n = nft.batches.size();
  REQUIRE(table.upsert(moved));
  CHECK(nft.batches.size() == n);
  // Another session may not take the port.
  CHECK(table.upsert({15900, "s2", "10.77.0.102", "10.88.0.2", 5900}).error().status == 409);
  // The session moves to another port: the old port goes in the same batch.
  REQUIRE(table.upsert({15950, "s1", "10.77.0.101", "10.88.0.2", 5901}));
  CHECK(!table.find(15900));
  CHECK(store.forwards().size() == 1);
  // nftables refuses: neither the table nor the store changes.
  nft.fail_next = true;
  CHECK(!table.upsert({15960, "s3", "10.77.0.103", "10.88.0.2", 5903}));
  CHECK(!table.find(15960));
  CHECK(store.forwards().size() == 1);
  REQUIRE(table.remove(15950));
  CHECK(table.list().empty());
  CHECK(store.forwards().empty());
  CHECK(table.remove(15950));  // already gone: fine
  std::filesystem::remove(path);
}

}  // namespace

namespace {

TEST_CASE("the broker's ForwardPort over the table: upsert, rebuild replaces everything, remove") {
  auto path = std::filesystem::temp_directory_path() / ("labdesk-bfwd-" + std::to_string(::getpid()) + ".sqlite");
  std::filesystem::remove(path);
  boot::Store store(path.string());
  RecordingNft nft;
  boot::ForwardTable table(boot::nat_spec(test::lab()), store, nft, log::make_logger("test", spdlog::level::off));
  REQUIRE(table.rebuild());
  boot::BrokerForwards port(table);
  broker::ForwardPort& p = port;
  REQUIRE(p.upsert({15900, "10.77.0.101", "10.88.0.2", 5900}));
  REQUIRE(p.upsert({15901, "10.77.0.102", "10.88.0.2", 5901}));
  CHECK(table.list().size() == 2);
  // A handoff on 15900 replaces in place.
  REQUIRE(p.upsert({15900, "10.77.0.101", "10.88.0.3", 5905}));
  CHECK(table.find(15900)->target_ip == "10.88.0.3");
  CHECK(table.find(15901)->target_port == 5901);
  REQUIRE(p.rebuild({{15902, "10.77.0.103", "10.88.0.2", 5902}}));
  CHECK(table.list().size() == 1);
  CHECK(store.forwards().size() == 1);
  // One unusable forward (not an IPv4 address, no VNC port) is left out and reported; the others
  // still replace the old table (no stale forward of an ended session survives).
  auto r = p.rebuild({{15903, "10.77.0.104", "vm-host", 5903}, {15904, "10.77.0.105", "10.88.0.2", 0},
                      {15905, "10.77.0.106", "10.88.0.2", 5905}});
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("2 forward(s) left out") != std::string::npos);
  CHECK_FALSE(table.find(15902));
  CHECK(table.find(15905));
  CHECK(table.list().size() == 1);
  REQUIRE(p.rebuild({{15902, "10.77.0.103", "10.88.0.2", 5902}}));
  // A start-up reconciliation that finds what is already in place (nftables rebuilt from the
  // store a moment before) sends nftables nothing: the table is built once.
  const auto batches = nft.batches.size();
  REQUIRE(p.rebuild({{15902, "10.77.0.103", "10.88.0.2", 5902}}));
  CHECK(nft.batches.size() == batches);
  REQUIRE(p.remove(15902));
  CHECK(store.forwards().empty());
  std::filesystem::remove(path);
}

}  // namespace
