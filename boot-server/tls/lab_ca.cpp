#include "tls/lab_ca.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "labdesk/common/error.hpp"

namespace labdesk::boot {

namespace fs = std::filesystem;

namespace {

template <auto F>
struct Deleter {
  template <class T>
  void operator()(T* p) const { F(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;

constexpr long kCaDays = 3650;
constexpr long kLeafDays = 825;  // what browsers and TLS libraries still accept for a leaf
constexpr long kRenewDays = 30;

[[noreturn]] void fail(const std::string& what) {
  char buf[256] = "";
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  throw Failure(Error{"tls_setup", what + " (" + buf + ")", 500});
}

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

Key new_key() {
  Key k(EVP_RSA_gen(2048));
  if (!k) fail("cannot make an RSA key");
  return k;
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) fail("cannot build certificate extension '" + value + "'");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// One certificate: the CA's own when issuer is null, else a server certificate for `names`.
Cert make_cert(EVP_PKEY* key, const std::string& cn, const std::vector<std::string>& names, X509* issuer,
               EVP_PKEY* issuer_key) {
  Cert c(X509_new());
  if (!c) fail("cannot allocate a certificate");
  X509_set_version(c.get(), 2);
  std::unique_ptr<BIGNUM, Deleter<BN_free>> serial(BN_new());
  BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(c.get()));
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);  // lab PCs' clocks lag a little
  X509_gmtime_adj(X509_getm_notAfter(c.get()), 86400L * (issuer ? kLeafDays : kCaDays));
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("labdesk"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(c.get(), key);
  X509* signer = issuer ? issuer : c.get();
  add_ext(c.get(), signer, NID_subject_key_identifier, "hash");
  add_ext(c.get(), signer, NID_authority_key_identifier, "keyid:always");
  if (!issuer) {
    add_ext(c.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_ext(c.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    // QEMU's x509 credentials insist on these (key encipherment, server auth, not a CA).
    add_ext(c.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(c.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_ext(c.get(), signer, NID_ext_key_usage, "serverAuth");
    std::string san;
    for (const auto& n : names) san += (san.empty() ? "" : ",") + std::string(is_ipv4(n) ? "IP:" : "DNS:") + n;
    add_ext(c.get(), signer, NID_subject_alt_name, san);
  }
  if (X509_sign(c.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) fail("cannot sign certificate '" + cn + "'");
  return c;
}

// Written whole or not at all (a temporary file renamed), with the mode set before any byte.
template <class WriteFn>
void write_pem(const fs::path& path, mode_t mode, WriteFn write) {
  const fs::path tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw Failure(Error{"tls_setup", "cannot write '" + tmp.string() + "': check the folder's owner", 500});
  ::fchmod(fd, mode);
  FILE* f = ::fdopen(fd, "w");
  Bio bio(BIO_new_fp(f, BIO_CLOSE));
  if (!bio || write(bio.get()) != 1) {
    if (!bio) ::fclose(f);
    fail("cannot write '" + tmp.string() + "'");
  }
  bio.reset();
  fs::rename(tmp, path);
}

void save_cert(const fs::path& p, X509* c) {
  write_pem(p, 0644, [c](BIO* b) { return PEM_write_bio_X509(b, c); });
}
void save_key(const fs::path& p, EVP_PKEY* k) {
  write_pem(p, 0600, [k](BIO* b) { return PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr); });
}

Cert load_cert(const fs::path& p) {
  Bio bio(BIO_new_file(p.c_str(), "r"));
  if (!bio) return nullptr;
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}
Key load_key(const fs::path& p) {
  Bio bio(BIO_new_file(p.c_str(), "r"));
  if (!bio) return nullptr;
  return Key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}
Cert parse_cert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

bool names_match(X509* c, const std::string& n) {
  return is_ipv4(n) ? X509_check_ip_asc(c, n.c_str(), 0) == 1
                    : X509_check_host(c, n.c_str(), n.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
}

// Issued by `ca`, names every one of `names` and lasts beyond the renewal margin.
bool leaf_good(X509* leaf, X509* ca, const std::vector<std::string>& names) {
  EVP_PKEY* ca_key = X509_get0_pubkey(ca);
  if (!ca_key || X509_verify(leaf, ca_key) != 1) return false;
  for (const auto& n : names) {
    if (!names_match(leaf, n)) return false;
  }
  std::time_t soon = std::time(nullptr) + kRenewDays * 86400;
  return X509_cmp_time(X509_get0_notAfter(leaf), &soon) > 0;
}

struct Ca {
  Cert cert;
  Key key;
};

Ca ensure_ca(const fs::path& dir, spdlog::logger& log) {
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  Ca ca{load_cert(dir / "ca.crt"), load_key(dir / "ca.key")};
  if (ca.cert && ca.key) return ca;
  if (fs::exists(dir / "ca.crt") || fs::exists(dir / "ca.key")) {
    throw Failure(Error{"tls_setup", "lab CA in '" + dir.string() + "' is incomplete or unreadable (ca.crt, ca.key): "
                        "restore both, or remove both to make a new CA (every lab PC then needs a reboot)", 500});
  }
  ca.key = new_key();
  ca.cert = make_cert(ca.key.get(), "labdesk lab CA", {}, nullptr, nullptr);
  save_key(dir / "ca.key", ca.key.get());
  save_cert(dir / "ca.crt", ca.cert.get());
  log.info("made labdesk's own lab CA '{}': lab PCs receive it at boot (lab-ca.cpio.gz)", (dir / "ca.crt").string());
  return ca;
}

}  // namespace

LabTlsFiles ensure_own_lab_tls(const fs::path& dir, const std::vector<std::string>& names, spdlog::logger& log) {
  Ca ca = ensure_ca(dir, log);
  LabTlsFiles out{(dir / "ca.crt").string(), (dir / "lab.crt").string(), (dir / "lab.key").string()};
  Cert leaf = load_cert(out.cert);
  Key key = load_key(out.key);
  if (leaf && key && X509_check_private_key(leaf.get(), key.get()) == 1 && leaf_good(leaf.get(), ca.cert.get(), names)) {
    return out;
  }
  key = new_key();
  leaf = make_cert(key.get(), names.empty() ? "labdesk" : names.front(), names, ca.cert.get(), ca.key.get());
  save_key(out.key, key.get());
  save_cert(out.cert, leaf.get());
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  log.info("issued the lab API's certificate '{}' for '{}' from the lab CA", out.cert, list);
  return out;
}

void issue_console_certificate(const fs::path& ca_dir, const std::vector<std::string>& names, const fs::path& out_dir) {
  Ca ca{load_cert(ca_dir / "ca.crt"), load_key(ca_dir / "ca.key")};
  if (!ca.cert || !ca.key) {
    throw Failure(Error{"tls_setup", "no lab CA in '" + ca_dir.string() + "' (ca.crt, ca.key): start the boot-server once to make it", 500});
  }
  if (names.empty()) throw Failure(Error{"tls_setup", "a console certificate needs at least one address or name", 400});
  fs::create_directories(out_dir);
  Key key = new_key();
  Cert leaf = make_cert(key.get(), names.front(), names, ca.cert.get(), ca.key.get());
  save_cert(out_dir / "ca-cert.pem", ca.cert.get());
  save_key(out_dir / "server-key.pem", key.get());
  save_cert(out_dir / "server-cert.pem", leaf.get());
}

bool certificate_valid_for(const std::string& cert, const std::string& ca, const std::string& name) {
  Cert leaf = parse_cert(cert);
  Cert root = parse_cert(ca);
  return leaf && root && leaf_good(leaf.get(), root.get(), {name});
}

}  // namespace labdesk::boot
