// An announce body from a lab PC (POST /v1/announce), straight into the strict parser.
#include "api/announce.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(labdesk::fuzz::bytes(data, size));
  auto r = labdesk::boot::parse_announce(body, "10.77.0.50", {"10.77.0.1/24"});
  if (r) {
    // Accepted means usable: the sender's own address and a MAC in the one stored form.
    if (r->ip != "10.77.0.50") labdesk::fuzz::fail("announce accepted for another address '" + r->ip + "'");
    if (r->mac.size() != 17) labdesk::fuzz::fail("announce accepted with mac '" + r->mac + "'");
    (void)labdesk::boot::announce_reply(*r, "http://10.77.0.1:8080", "v1").dump();
  } else if (r.error().status < 400 || r.error().status >= 500) {
    labdesk::fuzz::fail("announce refused with status " + std::to_string(r.error().status));
  }
  return 0;
}
