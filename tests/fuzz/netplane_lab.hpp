// The boot-server's two HTTP surfaces as the daemon builds them (net-plane routes + the broker's),
// on a temporary state folder, an SQLite store on disk, recorded nftables batches and two fake
// agents. Built once per fuzzing process.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "../unit/boot-server/broker/broker_lab.hpp"
#include "../unit/boot-server/fixtures.hpp"
#include "app/netplane_routes.hpp"
#include "labdesk/broker/api.hpp"
#include "labdesk/common/log.hpp"
#include "labdesk/http/server.hpp"
#include "nat/ruleset.hpp"
#include "store/broker_store.hpp"

namespace labdesk::fuzz {

struct RecordingNft final : boot::NftRunner {
  Result<void> run(const nlohmann::json&) override { return {}; }
};

inline constexpr const char* kAdminToken = "admin-token-0123456789";

struct NetplaneLab : test::BrokerParts {
  NetplaneLab()
      : BrokerParts({std::chrono::seconds(1), 2}, broker::HashCost::minimal),
        root(std::filesystem::temp_directory_path() / ("labdesk-fuzz-" + std::to_string(::getpid()))) {
    namespace fs = std::filesystem;
    fs::remove_all(root);
    for (const char* f : {"vmlinuz", "thin-client/initrd.cpio.gz", "ipxe/undionly.kpxe", "ipxe/snponly.efi"}) {
      fs::create_directories((root / "assets" / f).parent_path());
      std::ofstream(root / "assets" / f) << f;
    }
    std::ofstream(root / "assets/ipxe/boot.ipxe") << "#!ipxe\nkernel ${base}/vmlinuz\n";
    config = std::make_shared<const config::LabConfig>(test::lab());
    db = std::make_unique<boot::Store>((root / "labdesk.sqlite").string(), boot::broker_migrations());
    files = std::make_unique<boot::BootFiles>(root / "state", 1, log);
    files->import(root / "assets", {"undionly.kpxe", "snponly.efi", ""});
    forwards_table = std::make_unique<boot::ForwardTable>(boot::nat_spec(*config), nft, log);

    const boot::NetplaneRoutes deps{[this] { return config; }, *files, *db, *forwards_table,
                                    [] { return nlohmann::json{{"pid", 1}, {"healthy", true}, {"restarts", 0}}; }, log,
                                    "-----BEGIN CERTIFICATE-----\nfuzz\n-----END CERTIFICATE-----\n"};
    http::Router lab_router = boot::lab_routes(deps);
    api->add_client_routes(lab_router);
    http::Router admin_router = boot::admin_routes(deps);
    api->add_admin_routes(admin_router);
    lab = std::make_unique<http::Server>(io, http::ServerOptions{}, std::move(lab_router), log);
    http::ServerOptions admin_opt;
    admin_opt.bearer_token = kAdminToken;
    admin = std::make_unique<http::Server>(io, admin_opt, std::move(admin_router), log);
    thread = std::thread([this] { io.run(); });
  }
  ~NetplaneLab() {
    work.reset();
    io.stop();
    thread.join();
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  NetplaneLab(const NetplaneLab&) = delete;
  NetplaneLab& operator=(const NetplaneLab&) = delete;

  std::filesystem::path root;
  std::shared_ptr<const config::LabConfig> config;
  std::unique_ptr<boot::Store> db;  // the boot-server's SQLite store (BrokerParts::store is the broker's)
  std::unique_ptr<boot::BootFiles> files;
  RecordingNft nft;
  std::unique_ptr<boot::ForwardTable> forwards_table;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work{io.get_executor()};
  std::unique_ptr<http::Server> lab;
  std::unique_ptr<http::Server> admin;
  std::thread thread;
};

}  // namespace labdesk::fuzz
