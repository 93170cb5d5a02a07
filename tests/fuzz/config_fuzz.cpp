// The TOML config readers (boot-server, labdesk-plan and agent): any text is a config or a ConfigError naming
// the problem; nothing else may escape.
#include "fuzz.hpp"
#include "labdesk/agent/config.hpp"
#include "config/lab_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(labdesk::fuzz::bytes(data + 1, size - 1));
  try {
    if (data[0] % 3 == 0) {
      auto c = labdesk::config::parse_lab_config(text, "lab.toml");
      (void)labdesk::config::validate(c);
    } else if (data[0] % 3 == 1) {
      auto c = labdesk::config::parse_planner_config(text, "lab.toml");
      (void)labdesk::config::validate_planner(c);
    } else {
      (void)labdesk::agent::parse_agent_config(text, "agent.toml");
    }
  } catch (const labdesk::config::ConfigError& e) {
    if (std::string(e.what()).empty()) labdesk::fuzz::fail("a config error without a message");
  }
  return 0;
}
