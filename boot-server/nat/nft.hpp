// Applies libnftables JSON batches. An interface so unit tests can record batches instead.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "labdesk/common/error.hpp"

struct nft_ctx;

namespace labdesk::boot {

class NftRunner {
 public:
  virtual ~NftRunner() = default;
  // One batch = one kernel transaction: all of it applies or none.
  virtual Result<void> run(const nlohmann::json& batch) = 0;
};

class LibNftables final : public NftRunner {
 public:
  LibNftables();
  ~LibNftables() override;
  LibNftables(const LibNftables&) = delete;
  LibNftables& operator=(const LibNftables&) = delete;
  Result<void> run(const nlohmann::json& batch) override;

 private:
  nft_ctx* ctx_;
};

}  // namespace labdesk::boot
