// The boot-server's two HTTP surfaces as the daemon builds them (net-plane routes + the broker's),
// on a temporary state folder, an SQLite store on disk, recorded nftables batches and two fake
// agents. Built once per fuzzing process.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "../fakes/broker_fakes.hpp"
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

struct NetplaneLab {
  NetplaneLab() : root(std::filesystem::temp_directory_path() / ("labdesk-fuzz-" + std::to_string(::getpid()))) {
    namespace fs = std::filesystem;
    fs::remove_all(root);
    for (const char* f : {"vmlinuz", "thin-client/initrd.cpio.gz", "ipxe/undionly.kpxe", "ipxe/snponly.efi"}) {
      fs::create_directories((root / "assets" / f).parent_path());
      std::ofstream(root / "assets" / f) << f;
    }
    std::ofstream(root / "assets/ipxe/boot.ipxe") << "#!ipxe\nkernel ${base}/vmlinuz\n";
    config = std::make_shared<const config::LabConfig>(test::lab());
    store = std::make_unique<boot::Store>((root / "labdesk.sqlite").string(), boot::broker_migrations());
    files = std::make_unique<boot::BootFiles>(root / "state", 1, log);
    files->import(root / "assets", {"undionly.kpxe", "snponly.efi", ""});
    forwards = std::make_unique<boot::ForwardTable>(boot::nat_spec(*config), *store, nft, log);

    std::vector<broker::HostSpec> specs;
    std::vector<std::unique_ptr<broker::AgentPort>> ports;
    for (int i = 0; i < 2; ++i) {
      ports.push_back(std::make_unique<fakes::FakeAgent>(std::to_string(i), 4096));
      specs.push_back({"host" + std::to_string(i), 4096, 0});
    }
    hosts = std::make_unique<broker::HostTable>(specs, std::move(ports), clock);
    broker::BrokerOptions opt;
    opt.lab_address = "10.77.0.1";
    opt.policy = alloc::Policy{{4096, 2048, 1024, 512}, alloc::Mode::handoff, {}};
    brk = std::make_unique<broker::Broker>(opt, *hosts, bforwards, probe, sessions, clock, log);
    users.put({"alice", broker::hash_password("alice-pw", broker::HashCost::minimal), false});
    auth = std::make_unique<broker::Authenticator>(users, clock);
    api = std::make_unique<broker::BrokerApi>(io, *brk, *auth, users, log, broker::ApiOptions{std::chrono::seconds(1), 2});

    const boot::NetplaneRoutes deps{[this] { return config; }, *files, *store, *forwards,
                                    [] { return nlohmann::json{{"pid", 1}, {"healthy", true}, {"restarts", 0}}; }, log};
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
  std::shared_ptr<spdlog::logger> log = log::make_logger("fuzz", spdlog::level::off);
  std::shared_ptr<const config::LabConfig> config;
  std::unique_ptr<boot::Store> store;
  std::unique_ptr<boot::BootFiles> files;
  RecordingNft nft;
  std::unique_ptr<boot::ForwardTable> forwards;
  broker::SteadyClock clock;
  fakes::FakeForwards bforwards;
  fakes::FakeProbe probe;
  broker::MemorySessionStore sessions;
  broker::MemoryUserStore users;
  std::unique_ptr<broker::HostTable> hosts;
  std::unique_ptr<broker::Broker> brk;
  std::unique_ptr<broker::Authenticator> auth;
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work{io.get_executor()};
  std::unique_ptr<broker::BrokerApi> api;
  std::unique_ptr<http::Server> lab;
  std::unique_ptr<http::Server> admin;
  std::thread thread;
};

}  // namespace labdesk::fuzz
