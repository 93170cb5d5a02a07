#include "nat/nft.hpp"

#include <nftables/libnftables.h>

namespace labdesk::boot {

LibNftables::LibNftables() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
  if (!ctx_) throw Failure(Error{"nftables", "cannot create a libnftables context", 500});
  // With JSON output set, libnftables also parses the input buffer as JSON.
  nft_ctx_output_set_flags(ctx_, NFT_CTX_OUTPUT_JSON);
  nft_ctx_buffer_output(ctx_);
  nft_ctx_buffer_error(ctx_);
}

LibNftables::~LibNftables() { nft_ctx_free(ctx_); }

Result<void> LibNftables::run(const nlohmann::json& batch) {
  const std::string text = batch.dump();
  if (nft_run_cmd_from_buffer(ctx_, text.c_str()) != 0) {
    std::string err = nft_ctx_get_error_buffer(ctx_);
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return fail("nftables", "nftables rejected the ruleset: '" + err + "' (are we root with CAP_NET_ADMIN?)", 500);
  }
  return {};
}

}  // namespace labdesk::boot
