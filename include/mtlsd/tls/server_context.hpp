#pragma once
// One service's TLS settings turned into an SSL_CTX: built once at start-up
// (later: at each reload), then shared read-only by every connection of the
// service. Building loads and checks every file the service names; problems
// become config_errors pointing at the key that named the file.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "mtlsd/config/config.hpp"
#include "mtlsd/config/error.hpp"
#include "mtlsd/identity/policy.hpp"
#include "mtlsd/tls/crl.hpp"
#include "mtlsd/tls/ocsp_staple.hpp"
#include "mtlsd/tls/openssl.hpp"
#include "mtlsd/tls/ticket_keys.hpp"
#include "mtlsd/tls/verified_chain_cache.hpp"

namespace mtlsd::tls {

struct certificate_summary {
  std::string subject;
  std::string issuer;
  std::string not_after;  // ISO 8601
  std::int64_t not_after_unix = 0;  // seconds; for metrics and alerting
  bool expired = false;
};

class server_context {
 public:
  // Returns nullptr and appends to `errors` when anything is wrong; warnings
  // (odd but legal set-ups) are appended to `warnings`. Files named by keys in
  // `known_bad` (already reported by the loader) are not loaded again, so one
  // run reports a mismatched key next to an unrelated error.
  static std::shared_ptr<const server_context> build(const service_config& service, config_errors& errors,
                                                     std::vector<std::string>& warnings,
                                                     const std::set<std::string>& known_bad = {});
  // For `mtlsd verify` without a config file: a context that judges client
  // certificates exactly as build() would (truststore, CRLs, depth, EKU,
  // whitelist) but serves no certificate of its own, so `service` needs no
  // cert or key. Never for a listener.
  static std::shared_ptr<const server_context> build_verifier(const service_config& service, config_errors& errors,
                                                              std::vector<std::string>& warnings);

  SSL_CTX* native() const { return ctx_.get(); }
  // Makes a handshake that started under another service's context (same
  // listening socket, selected by SNI) this service's: certificate, trust
  // store, CA list, verify mode and depth, minimum version, session ID
  // context. Only from the ClientHello callback; false on allocation failure.
  bool take_over(SSL* ssl) const;
  const allow_policy& policy() const { return policy_; }
  verify_client_mode verify_mode() const { return verify_mode_; }
  int verify_depth() const { return verify_depth_; }
  const std::string& service_name() const { return service_name_; }
  // require_client_auth_eku: the leaf must carry extendedKeyUsage (chain_policy.hpp).
  bool require_client_auth_eku() const { return require_client_auth_eku_; }

  const certificate_summary& server_certificate() const { return server_cert_; }
  std::size_t truststore_size() const { return truststore_size_; }
  // The CA certificates clients are verified against (empty with verify_client = none).
  const std::vector<certificate_summary>& trusted_cas() const { return trusted_cas_; }
  // Keys read from session_ticket_key_file; 0 when OpenSSL's random
  // per-context keys are used (tickets resume only in this process).
  std::size_t ticket_key_count() const { return ticket_keys_ ? ticket_keys_->size() : 0; }
  // With `keystore`: the alias of the private-key entry served (empty for a
  // PKCS#12 entry without friendlyName).
  const std::string& keystore_alias() const { return keystore_alias_; }

  // Revocation (crl.hpp, ocsp_staple.hpp, docs/revocation.md).
  const std::vector<crl_summary>& crls() const { return crl_summaries_; }
  crl_stale_mode crl_stale() const { return crl_stale_; }
  bool reevaluate_live() const { return reevaluate_live_; }
  ocsp_mode ocsp() const { return ocsp_; }
  const std::string& ocsp_url() const { return ocsp_url_; }
  std::chrono::milliseconds ocsp_timeout() const { return ocsp_timeout_; }
  // ocsp = "soft" admitted a client without an answer: logged at most once
  // a minute per service, since a responder outage affects every client.
  void note_ocsp_soft_fail(const std::string& subject, const std::string& why) const;
  // CRLs fetched over HTTP for this service (crl_url, then the truststore's
  // distribution points with crl_from_cdp), each with its cache file.
  struct fetched_crl {
    std::string url;
    std::filesystem::path cache_file;
  };
  const std::vector<fetched_crl>& fetched_crls() const { return fetched_crls_; }
  // The CA certificates a fetched CRL is checked against, as `crl` files are.
  X509_STORE* trust_store() const { return SSL_CTX_get_cert_store(ctx_.get()); }
  // The OCSP response stapled for the server certificate; null when none.
  const ocsp_staple* staple() const { return staple_.get(); }
  // Verification met `crl` past its nextUpdate while checking `cert`. With
  // crl_stale = "warn": logs crl_stale (at most once a minute per CRL of
  // this context) and returns true, letting verification go on; with
  // "reject": false. Any thread.
  bool tolerate_stale_crl(const X509_CRL* crl, X509* cert) const;
  // A resumed session skips verification; while one of this context's CRLs
  // is stale under crl_stale = "reject", resumed clients must be judged
  // like new ones (see proxy::session).
  bool recheck_resumed(std::int64_t now) const {
    return crl_stale_ == crl_stale_mode::reject && now >= crls_valid_until_;
  }

 private:
  server_context() = default;
  // OpenSSL's chain verification for this context, through the per-worker
  // verified-chain cache (verified_chain_cache.hpp).
  static int verify_chain(X509_STORE_CTX* store, void* self);

  // Declared before ctx_ so that it is destroyed after it: the SSL_CTX's
  // ticket callback reads these keys.
  std::unique_ptr<const ticket_keyring> ticket_keys_;
  std::unique_ptr<const ocsp_staple> staple_;  // read by the SSL_CTX's status callback
  ossl::ssl_ctx_ptr ctx_;
  allow_policy policy_;
  verify_client_mode verify_mode_ = verify_client_mode::require;
  int verify_depth_ = 0;
  std::string service_name_;
  certificate_summary server_cert_;
  std::size_t truststore_size_ = 0;
  std::vector<certificate_summary> trusted_cas_;
  ossl::evp_md_ptr sha256_;  // fetched once, not per handshake
  chain_cache_scope chain_cache_scope_;
  bool require_client_auth_eku_ = true;
  std::string keystore_alias_;
  std::vector<crl_summary> crl_summaries_;
  std::vector<const X509_CRL*> crl_objects_;  // held by the SSL_CTX's store; same order as crl_summaries_
  std::unique_ptr<std::atomic<std::int64_t>[]> stale_logged_;  // per CRL: when crl_stale was last logged
  crl_stale_mode crl_stale_ = crl_stale_mode::reject;
  bool reevaluate_live_ = true;
  ocsp_mode ocsp_ = ocsp_mode::off;
  std::string ocsp_url_;
  std::chrono::milliseconds ocsp_timeout_{3000};
  std::unique_ptr<std::atomic<std::int64_t>> ocsp_soft_logged_ = std::make_unique<std::atomic<std::int64_t>>(0);
  // The earliest nextUpdate of the CRLs; max when none has one.
  std::int64_t crls_valid_until_ = INT64_MAX;
  std::vector<fetched_crl> fetched_crls_;
  // `alpn` in wire format (length-prefixed names, our preference order).
  std::string alpn_wire_;
  static int select_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                         unsigned int inlen, void* self);
};

}  // namespace mtlsd::tls
