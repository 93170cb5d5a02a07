#include "pxe/cpio.hpp"

#include <zlib.h>

#include <cstdio>

#include "labdesk/common/error.hpp"

namespace labdesk::boot {

namespace {

void pad4(std::string& out) {
  while (out.size() % 4 != 0) out.push_back('\0');
}

void entry(std::string& out, std::uint32_t ino, std::uint32_t mode, std::uint32_t nlink, const std::string& name,
           const std::string& data) {
  char head[111];
  std::snprintf(head, sizeof head, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode, 0U, 0U,
                nlink, 0U, static_cast<unsigned>(data.size()), 0U, 0U, 0U, 0U,
                static_cast<unsigned>(name.size() + 1), 0U);
  out.append(head, 110);
  out += name;
  out.push_back('\0');
  pad4(out);
  out += data;
  pad4(out);
}

}  // namespace

std::string render_cpio(const std::vector<CpioEntry>& entries) {
  std::string out;
  std::uint32_t ino = 1;
  for (const auto& e : entries) {
    const bool dir = (e.mode & 0170000) == 040000;
    entry(out, ino++, e.mode, dir ? 2 : 1, e.path, dir ? std::string() : e.data);
  }
  entry(out, 0, 0, 1, "TRAILER!!!", "");
  return out;
}

std::string gzip(const std::string& data) {
  z_stream z{};
  // windowBits 15 + 16: a gzip wrapper; zlib writes mtime 0 and no name, so the bytes are stable.
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw Failure(Error{"gzip", "zlib could not start a gzip stream", 500});
  }
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int r = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (r != Z_STREAM_END) throw Failure(Error{"gzip", "zlib could not compress " + std::to_string(data.size()) + " bytes", 500});
  return out;
}

std::string render_lab_ca_archive(const std::string& pem) {
  if (pem.empty()) return gzip(render_cpio({}));
  return gzip(render_cpio({{"etc", 040755, ""}, {"etc/tc", 040755, ""}, {"etc/tc/lab-ca.pem", 0100644, pem}}));
}

}  // namespace labdesk::boot
