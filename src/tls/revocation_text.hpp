#pragma once
// Owner: tls module (private). Words for the verification errors about
// revocation, naming the CRL and, for a revoked certificate, its entry, so
// that handshake_failed and live_connection_rejected lines say exactly which
// list refused whom, when and why.

#include <optional>
#include <string>

#include <openssl/x509.h>

namespace mtlsd::tls {

// For an X509_V_ERR_* about CRLs met while verifying `cert` (the store's
// current CRL, if any, is the list in question); nullopt for other errors.
std::optional<std::string> explain_revocation(int error, X509_STORE_CTX* store, X509* cert);
// The same, with the CRL in question given directly (null: not known).
std::optional<std::string> explain_crl_error(int error, X509_CRL* crl, X509* cert);

// "revoked: serial 0A1B at 2026-01-02T03:04:05Z, reason keyCompromise; listed
// in the CRL of "CN=CA" (thisUpdate ..., nextUpdate ...)": the entry of `crl`
// for `cert`.
std::string revoked_text(X509_CRL* crl, X509* cert);

}  // namespace mtlsd::tls
