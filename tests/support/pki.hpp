#pragma once
// A small certificate authority for tests: keys and certificates made at test
// time with OpenSSL's API, so nothing checked in ever expires and every odd
// case (expired, multi-CN, NUL bytes, deep chains) is one struct away.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

namespace mtlsd::test {

struct evp_pkey_deleter { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct x509_deleter { void operator()(X509* p) const { X509_free(p); } };
using pkey_ptr = std::unique_ptr<EVP_PKEY, evp_pkey_deleter>;
using x509_ptr = std::unique_ptr<X509, x509_deleter>;

// rsa1024, ec_p224 and dsa2048 are below mtlsd's key policy (weak_key tests).
enum class key_kind { ec_p256, rsa2048, rsa1024, ec_p224, dsa2048, ed25519 };
enum class key_usage_kind { digital_signature, key_encipherment, key_agreement, key_cert_sign, crl_sign };
enum class eku_kind { none, client_auth, server_auth, both, ocsp_signing };

struct cert_spec {
  // Subject attributes, in order. Values may hold embedded NUL bytes.
  std::vector<std::string> cn, ou, o;
  // subjectAltName entries.
  std::vector<std::string> dns, uri, email, ip;
  // Validity relative to now.
  std::chrono::seconds not_before = -std::chrono::hours(1);
  std::chrono::seconds not_after = std::chrono::hours(24);
  bool is_ca = false;
  std::optional<int> path_len;  // basicConstraints pathLenConstraint for CAs
  eku_kind eku = eku_kind::client_auth;  // ignored for CAs (they carry none)
  key_kind key = key_kind::ec_p256;
  // keyUsage bits as written; nullopt: CA keyCertSign+cRLSign, leaf
  // digitalSignature (+keyEncipherment for RSA). An empty list: no keyUsage.
  std::optional<std::vector<key_usage_kind>> key_usage;
  bool eku_on_ca = false;  // give a CA certificate `eku` too (a CA certificate misused as a client leaf)
  // nameConstraints subtrees (critical), as "dns:.partner.example",
  // "email:partner.example", "uri:.example.org", "ip:10.9.0.0/16".
  std::vector<std::string> permitted_names, excluded_names;
  // cRLDistributionPoints: one distribution point per URI (fullName).
  std::vector<std::string> crl_distribution_points;
  // Absolute validity (unix seconds), used instead of not_before/not_after
  // when set: certificates that must come out byte-identical on every run
  // (the fuzz targets make their PKI from fixed randomness).
  std::optional<std::int64_t> not_before_unix, not_after_unix;
};

struct issued {
  pkey_ptr key;
  x509_ptr cert;

  std::string cert_pem() const;
  std::string key_pem() const;  // unencrypted PKCS#8
  std::string key_pem_encrypted(const std::string& password) const;
  std::string sha256_hex() const;  // lowercase, no colons
};

issued make_self_signed(const cert_spec& spec);
issued issue(const cert_spec& spec, const issued& issuer);

// Certificate revocation lists signed by a test CA.
struct x509_crl_deleter { void operator()(X509_CRL* p) const { X509_CRL_free(p); } };
using x509_crl_ptr = std::unique_ptr<X509_CRL, x509_crl_deleter>;

struct revoked_cert {
  const issued* cert = nullptr;                       // whose serial is listed
  std::chrono::seconds revoked = -std::chrono::hours(1);  // revocation date relative to now
  std::optional<int> reason = std::nullopt;           // CRLReason code (1 = keyCompromise); none: no extension
};

struct crl_spec {
  std::vector<revoked_cert> revoked;
  // Relative to now.
  std::chrono::seconds this_update = -std::chrono::hours(1);
  std::optional<std::chrono::seconds> next_update = std::chrono::hours(24);  // nullopt: no nextUpdate
  // Signs with this CA's key instead of the issuer's (keeping the issuer's
  // name): a CRL whose signature does not verify.
  const issued* forged_by = nullptr;
  // Adds a critical extension no implementation knows (a private OID).
  bool unknown_critical_extension = false;
  std::optional<long> crl_number;  // the cRLNumber extension; none: absent
};

struct crl_made {
  x509_crl_ptr crl;
  std::string pem() const;
  std::string der() const;
};

crl_made make_crl(const crl_spec& spec, const issued& issuer);

// A DER OCSP response about `cert` (issued by `issuer`), signed by the issuer.
struct ocsp_spec {
  enum class status { good, revoked, unknown };
  status cert_status = status::good;
  std::chrono::seconds this_update = -std::chrono::minutes(5);
  std::optional<std::chrono::seconds> next_update = std::chrono::hours(24);
};
std::string make_ocsp_response(const ocsp_spec& spec, const issued& cert, const issued& issuer);

// Writes `text` to `path`, creating parent directories.
void write_file(const std::filesystem::path& path, const std::string& text);

// One session ticket key as a session_ticket_key_file line holds it: 80
// random bytes in lowercase hex, without the newline.
std::string random_ticket_key_hex();

// A scratch directory removed at destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace mtlsd::test
