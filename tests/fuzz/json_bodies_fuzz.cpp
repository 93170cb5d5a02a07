// Every JSON body type of the APIs read strictly (agent API, client API): a value or a 400 naming
// the key, never an exception. The first byte picks the type.
#include "fuzz.hpp"
#include "labdesk/common/api/agent.hpp"
#include "labdesk/common/api/client.hpp"

namespace {

template <typename T>
void read(const nlohmann::json& j) {
  auto r = labdesk::api::parse_strict<T>(j);
  if (r) {
    (void)nlohmann::json(*r).dump();
  } else if (r.error().status != 400) {
    labdesk::fuzz::fail("strict parse answered " + std::to_string(r.error().status));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  auto j = nlohmann::json::parse(labdesk::fuzz::bytes(data + 1, size - 1), nullptr, false);
  if (j.is_discarded()) return 0;
  namespace aa = labdesk::api::agent;
  namespace ca = labdesk::api::client;
  switch (data[0] % 15) {
    case 0: read<aa::CreateDesktop>(j); break;
    case 1: read<aa::ResizeMemory>(j); break;
    case 2: read<aa::Desktop>(j); break;
    case 3: read<aa::LoadReport>(j); break;
    case 4: read<aa::EventBatch>(j); break;
    case 5: read<aa::Health>(j); break;
    case 6: read<ca::LoginRequest>(j); break;
    case 7: read<ca::LoginResponse>(j); break;
    case 8: read<ca::Credential>(j); break;
    case 9: read<ca::EventBatch>(j); break;
    case 10: read<aa::MemoryReport>(j); break;
    case 11: read<aa::ConsolePassword>(j); break;
    case 12: read<aa::RetireData>(j); break;
    case 13: read<aa::RetiredData>(j); break;
    default: read<aa::ImageInfo>(j); break;
  }
  return 0;
}
