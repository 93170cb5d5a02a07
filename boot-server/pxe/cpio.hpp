// A newc ("070701") cpio archive, the format the kernel unpacks as an initramfs. iPXE loads it as
// a second initrd after the thin client's, and the kernel lays its files over the first's.
// Served gzip-compressed: under UEFI the kernel's EFI stub concatenates the initrds without
// padding, and the kernel finds an uncompressed cpio only at a 4-byte boundary, where a
// compressed one is found wherever it starts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace labdesk::boot {

struct CpioEntry {
  std::string path;    // relative, e.g. "etc/tc/lab-ca.pem"
  std::uint32_t mode;  // type and permissions, e.g. 0100644 (file), 040755 (folder)
  std::string data;    // a file's bytes; empty for a folder
};

// Deterministic: owner root, mtime 0, inode numbers in order (golden files pin it down).
std::string render_cpio(const std::vector<CpioEntry>& entries);

// gzip (RFC 1952) of `data`, deterministic (no name, mtime 0), through zlib.
std::string gzip(const std::string& data);

// The archive that hands the lab CA to the thin client: etc/tc/lab-ca.pem, gzip-compressed. An
// empty `pem` gives an archive without it (TLS off): the boot script stays the same either way.
std::string render_lab_ca_archive(const std::string& pem);

}  // namespace labdesk::boot
