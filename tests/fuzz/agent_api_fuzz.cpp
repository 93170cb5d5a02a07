// The hypervisor agent's API (what the boot-server calls), the real agent on libvirt's
// test:///default driver. Seeds carry the agent token, so the fuzzer reaches past the check.
#include <boost/asio/executor_work_guard.hpp>
#include <thread>

#include "../unit/hypervisor-agent/fixture.hpp"
#include "fuzz.hpp"
#include "labdesk/agent/agent.hpp"
#include "labdesk/common/log.hpp"

namespace {

struct RunningAgent {
  labdesk::test::AgentTree tree;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  labdesk::agent::EventLoop loop;
  std::unique_ptr<labdesk::agent::Agent> agent;
  std::thread thread;

  RunningAgent() {
    agent = std::make_unique<labdesk::agent::Agent>(loop, tree.cfg, tree.token, io,
                                                    labdesk::log::make_logger("fuzz", spdlog::level::off));
    agent->start();
    thread = std::thread([this] { io.run(); });
  }
  ~RunningAgent() {
    agent->drain();
    work.reset();
    io.stop();
    thread.join();
    agent.reset();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static RunningAgent a;
  labdesk::fuzz::drive(a.agent->server(), labdesk::fuzz::bytes(data, size), "10.88.0.1");
  return 0;
}
