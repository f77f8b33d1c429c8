#pragma once
// OCSP stapling of a service's own certificate (`ocsp_staple_file`): a DER
// OCSP response, fetched by the operator (e.g. with `openssl ocsp`), checked
// when the service's context is built and handed to every client that asks
// for certificate status (the status_request extension). Owned by the
// server_context that loaded it, which outlives its SSL_CTX's use of it;
// read-only after loading, from any worker thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace mtlsd::tls {

// A response may claim a thisUpdate this far ahead of our clock (clock skew
// between the responder and us), as OpenSSL's own checks allow.
inline constexpr std::int64_t ocsp_clock_skew_seconds = 300;

struct ocsp_staple {
  std::string der;          // the response exactly as read
  std::string cert_status;  // good | revoked | unknown
  std::string this_update;  // ISO 8601
  std::string next_update;  // ISO 8601; empty when the response has none
  std::int64_t this_update_unix = 0;
  std::optional<std::int64_t> next_update_unix;

  // Whether the response may be stapled at `now`: not before its thisUpdate
  // (give or take the clock skew) and before its nextUpdate. A response
  // past nextUpdate is never sent: strict clients refuse a stale staple,
  // while no staple at all lets them ask the responder themselves.
  bool current_at(std::int64_t now) const;
};

// Checks a DER OCSP response for `leaf`, issued by `issuer`: it must parse,
// its status must be successful, and it must hold a status for exactly this
// certificate (the CertID made with the issuer's name and key). Otherwise
// nullopt with `error`. A revoked or unknown status, or a response that is
// not current at `now`, loads with a warning. The responder's signature is
// not checked here: the clients check it.
std::optional<ocsp_staple> parse_ocsp_staple(std::string_view der, X509* leaf, X509* issuer, std::int64_t now,
                                             std::string& error, std::vector<std::string>& warnings);

// Makes `ctx` staple `*staple` (while current) for clients that ask.
// `*staple` must outlive `ctx`.
void install_ocsp_stapling(SSL_CTX* ctx, const ocsp_staple* staple);

}  // namespace mtlsd::tls
