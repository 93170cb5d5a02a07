// A broker over fake agents (two 4 GiB hosts, tiers 4096/2048/1024/512) with a clock the test
// moves by hand: what the broker unit tests drive directly.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>

#include "../../../fakes/broker_fakes.hpp"
#include "labdesk/broker/broker.hpp"
#include "labdesk/common/log.hpp"

namespace labdesk::test {

using namespace labdesk::broker;

struct Lab {
  explicit Lab(alloc::Mode mode = alloc::Mode::handoff, int hosts = 2) {
    std::vector<HostSpec> specs;
    std::vector<std::unique_ptr<AgentPort>> ports;
    for (int i = 0; i < hosts; ++i) {
      auto a = std::make_unique<fakes::FakeAgent>(std::to_string(i), 4096);
      agents.push_back(a.get());
      ports.push_back(std::move(a));
      specs.push_back({"host" + std::to_string(i), 4096, 0});
    }
    table = std::make_unique<HostTable>(specs, std::move(ports), clock);
    opt.lab_address = "10.77.0.1";
    opt.first_lab_port = 16000;
    opt.port_count = 20;
    opt.policy = alloc::Policy{{4096, 2048, 1024, 512}, mode, {}};
    opt.grace = std::chrono::seconds(60);
    broker = make();
  }
  std::unique_ptr<Broker> make() {
    return std::make_unique<Broker>(opt, *table, forwards, probe, store, clock,
                                    log::make_logger("broker-test", spdlog::level::off));
  }
  // The hosts mount one data area (desktops.data = "shared"): a user's disk is one for all hosts.
  void share_data_area() {
    auto area = std::make_shared<fakes::FakeDataArea>();
    for (auto* a : agents) a->data_area = area;
    opt.shared_data = true;
    broker = make();
  }
  // The fakes can migrate desktops to each other (live moves); with shared data, as they need.
  void connect_peers() {
    auto peers = std::make_shared<std::map<std::string, fakes::FakeAgent*>>();
    for (std::size_t i = 0; i < agents.size(); ++i) (*peers)[std::to_string(i)] = agents[i];
    for (auto* a : agents) a->peers = peers;
  }
  void migratable() {
    share_data_area();
    connect_peers();
  }
  LoginResult login(const std::string& user, const std::string& pc = "") {
    auto r = broker->login({user, pc.empty() ? "pc-" + user : pc, "10.77.0." + std::to_string(100 + ++ips)});
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    return *r;
  }
  std::int64_t committed() const {
    std::int64_t sum = 0;
    for (auto* a : agents) sum += a->committed();
    return sum;
  }

  fakes::ManualClock clock;
  fakes::FakeForwards forwards;
  fakes::FakeProbe probe;
  MemorySessionStore store;
  std::vector<fakes::FakeAgent*> agents;
  std::unique_ptr<HostTable> table;
  BrokerOptions opt;
  std::unique_ptr<Broker> broker;
  int ips = 0;
};

}  // namespace labdesk::test
