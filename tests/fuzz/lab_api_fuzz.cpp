// The lab-facing listener (what any lab PC reaches): boot script, boot files, announce, login,
// credential, events, logout, ack. Raw bytes are one HTTP request from a lab PC's address.
#include "fuzz.hpp"
#include "netplane_lab.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static labdesk::fuzz::NetplaneLab lab;
  labdesk::fuzz::drive(*lab.lab, labdesk::fuzz::bytes(data, size), "10.77.0.50");
  return 0;
}
