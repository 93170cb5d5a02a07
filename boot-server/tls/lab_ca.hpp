// labdesk's own lab CA: made once in the boot-server's state folder, it issues the certificate
// of the lab API (HTTPS on the lab address) and of the desktops' consoles (QEMU's VNC TLS), and
// lab PCs trust it because the boot-server hands it to them with the thin client (lab-ca.cpio.gz).
// An admin with a CA of their own sets [tls] cert, key and ca instead.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <spdlog/logger.h>

namespace labdesk::boot {

struct LabTlsFiles {
  std::string ca;    // PEM CA certificate lab PCs trust
  std::string cert;  // PEM certificate chain of the lab address
  std::string key;   // its PEM private key
};

// Makes what is missing in `dir`: the CA (ca.crt, ca.key) and a certificate for `names` (lab.crt,
// lab.key; IPv4 addresses or DNS names). The certificate is issued anew when it does not name
// every one of `names`, was not issued by this CA, or ends within 30 days; the CA is never
// replaced (lab PCs trust it). Keys are 0600, the folder 0700. Throws labdesk::Failure.
LabTlsFiles ensure_own_lab_tls(const std::filesystem::path& dir, const std::vector<std::string>& names,
                               spdlog::logger& log);

// A server certificate for `names` from the CA in `ca_dir` (as ensure_own_lab_tls made it),
// written to `out_dir` in the layout of libvirt's vnc_tls_x509_cert_dir: ca-cert.pem,
// server-cert.pem, server-key.pem (0600). Throws labdesk::Failure.
void issue_console_certificate(const std::filesystem::path& ca_dir, const std::vector<std::string>& names,
                               const std::filesystem::path& out_dir);

// True when the PEM certificate in `cert` names `name` (IPv4 address or DNS name) and chains to
// the PEM CA in `ca` (for tests and --check-config).
bool certificate_valid_for(const std::string& cert, const std::string& ca, const std::string& name);

}  // namespace labdesk::boot
