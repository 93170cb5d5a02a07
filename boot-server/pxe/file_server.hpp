// The bulk path for boot files: a small HTTP/1.1 server (Beast parses the request) that sends
// the file with sendfile(2) straight from the page cache, keep-alive, GET and HEAD only.
// common/http's Server streams files through 4 KiB reads and writes, which measured at a
// third of nginx for the kernel + initramfs (bench/boot_files.sh); boot.ipxe points iPXE here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <spdlog/logger.h>

#include "pxe/boot_files.hpp"

namespace labdesk::boot {

class BootFileServer {
 public:
  BootFileServer(boost::asio::io_context& io, std::string address, std::uint16_t port, const BootFiles& files,
                 std::shared_ptr<spdlog::logger> log);
  ~BootFileServer();
  BootFileServer(const BootFileServer&) = delete;
  BootFileServer& operator=(const BootFileServer&) = delete;

  // Binds and accepts; throws labdesk::Failure if the address cannot be bound.
  void start();
  void stop();
  [[nodiscard]] std::uint16_t port() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace labdesk::boot
