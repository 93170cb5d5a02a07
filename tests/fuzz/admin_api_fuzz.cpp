// The admin listener: net-plane status, clients, forwards and the broker's admin REST API. Seeds
// carry the admin token, so the fuzzer reaches the handlers behind it.
#include "fuzz.hpp"
#include "netplane_lab.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static labdesk::fuzz::NetplaneLab lab;
  labdesk::fuzz::drive(*lab.admin, labdesk::fuzz::bytes(data, size), "127.0.0.1");
  return 0;
}
