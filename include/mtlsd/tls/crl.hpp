#pragma once
// Certificate revocation lists named by a service's `crl` key: reading the
// files (PEM holding one or more CRLs, or one DER CRL, told apart by
// content), the checks made when they are loaded, and the facts `mtlsd
// check`, the metrics and the logs show about each. The server_context that
// loads them owns the CRLs (they sit in its X509_STORE, where OpenSSL finds
// them during every handshake); nothing here is touched after loading.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509.h>

#include "mtlsd/config/config.hpp"
#include "mtlsd/tls/openssl.hpp"

namespace mtlsd::tls {

using crl_ptr = std::unique_ptr<X509_CRL, ossl::deleter<X509_CRL, X509_CRL_free>>;

struct crl_summary {
  std::string file;         // as named in the config
  std::string issuer;       // RFC 2253 one-line form
  std::string this_update;  // ISO 8601
  std::string next_update;  // ISO 8601; empty when the CRL has no nextUpdate
  std::int64_t this_update_unix = 0;
  std::optional<std::int64_t> next_update_unix;  // nullopt: never goes stale
  std::size_t revoked = 0;                       // entries in the list
  // Issued by a truststore CA, so its signature was checked when loaded;
  // otherwise (an intermediate's CRL) OpenSSL checks it in each handshake.
  bool issuer_trusted = false;

  bool stale_at(std::int64_t now) const { return next_update_unix && now >= *next_update_unix; }
};

// Every CRL in `bytes`: the "X509 CRL" PEM blocks when the data holds a PEM
// header, else exactly one DER CRL. Empty with `error` set when nothing
// parses, or when any PEM block or the DER is malformed.
std::vector<crl_ptr> parse_crls(std::string_view bytes, std::string& error);
std::vector<crl_ptr> read_crl_file(const std::filesystem::path& file, std::string& error);

// The first critical extension of the CRL or of one of its entries that
// OpenSSL does not process (it would then refuse every chain the CRL covers),
// by name; empty when there is none.
std::string unsupported_critical_extension(X509_CRL* crl);

crl_summary summarize_crl(X509_CRL* crl, const std::string& file);

// RFC 5280 5.3.1 CRLReason: 1 -> "keyCompromise"; unknown codes -> "reason N".
std::string crl_reason_name(int code);

// Serial number as uppercase hex ("0A1B..."), as `openssl x509 -serial` prints it.
std::string serial_hex(const ASN1_INTEGER* serial);

struct crl_load {
  std::vector<crl_ptr> crls;              // in file order
  std::vector<crl_summary> summaries;     // one per entry of `crls`
  std::vector<std::string> errors;        // config errors (the `crl` key)
  std::vector<std::string> warnings;
};

// Reads `files` and checks every CRL against the CA certificates already in
// `truststore`: a CRL whose issuer is there must be signed by it (and the CA
// must be allowed to sign CRLs); a CRL issued by anyone else is accepted
// with a warning, since only the handshake sees the intermediate that
// signed it. Stale CRLs (`now` past nextUpdate) add a warning saying what
// `mode` does with their clients.
crl_load load_crls(const std::vector<std::filesystem::path>& files, X509_STORE* truststore, crl_stale_mode mode,
                   std::int64_t now);

// CRLs fetched over HTTP (crl_url, crl_from_cdp): the file under
// `cache_dir` that holds the last good CRL from `url` — the SHA-256 of the
// URL as lowercase hex plus ".crl", a safe fixed-length name for any URL.
std::filesystem::path crl_cache_file(const std::filesystem::path& cache_dir, const std::string& url);

// The http:// URIs of the cRLDistributionPoints of `cert` (fullName only; a
// distribution point naming the CRL issuer by relative name is skipped).
std::vector<std::string> http_distribution_points(X509* cert);

// True when `candidate` is older than `current` by the same issuer: a lower
// CRL number (RFC 5280 5.2.3) or an earlier thisUpdate. A replacement must
// never move revocation backwards (a stale mirror, a replayed response).
bool crl_older(X509_CRL* candidate, X509_CRL* current);

}  // namespace mtlsd::tls
