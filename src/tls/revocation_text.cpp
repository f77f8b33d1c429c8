#include "tls/revocation_text.hpp"

#include <openssl/x509v3.h>

#include "mtlsd/identity/identity.hpp"
#include "mtlsd/tls/crl.hpp"
#include "mtlsd/tls/openssl.hpp"

namespace mtlsd::tls {
namespace {

std::string crl_named(X509_CRL* crl, X509* cert) {
  if (!crl) return "the CRL of its issuer \"" + distinguished_name(X509_get_issuer_name(cert)) + "\"";
  std::string text = "the CRL of \"" + distinguished_name(X509_CRL_get_issuer(crl)) + "\" (thisUpdate " +
                     ossl::iso8601(X509_CRL_get0_lastUpdate(crl));
  if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl)) text += ", nextUpdate " + ossl::iso8601(next);
  return text + ")";
}

}  // namespace

std::string revoked_text(X509_CRL* crl, X509* cert) {
  std::string text = "revoked: serial " + serial_hex(X509_get0_serialNumber(cert));
  X509_REVOKED* entry = nullptr;
  if (crl && X509_CRL_get0_by_cert(crl, &entry, cert) >= 1 && entry) {
    text += " at " + ossl::iso8601(X509_REVOKED_get0_revocationDate(entry));
    int critical = 0;
    if (auto* reason = static_cast<ASN1_ENUMERATED*>(
            X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &critical, nullptr))) {
      text += ", reason " + crl_reason_name(static_cast<int>(ASN1_ENUMERATED_get(reason)));
      ASN1_ENUMERATED_free(reason);
    }
  }
  return text + "; listed in " + crl_named(crl, cert);
}

std::optional<std::string> explain_revocation(int error, X509_STORE_CTX* store, X509* cert) {
  return explain_crl_error(error, store ? X509_STORE_CTX_get0_current_crl(store) : nullptr, cert);
}

std::optional<std::string> explain_crl_error(int error, X509_CRL* crl, X509* cert) {
  switch (error) {
    case X509_V_ERR_CERT_REVOKED:
      return revoked_text(crl, cert);
    case X509_V_ERR_UNABLE_TO_GET_CRL:
      return "revocation unknown: no CRL from its issuer \"" + distinguished_name(X509_get_issuer_name(cert)) +
             "\" is loaded; with crl set, every CA certificate in the chain, the root included, needs its CRL in crl";
    case X509_V_ERR_CRL_HAS_EXPIRED:
      return "revocation not current: " + crl_named(crl, cert) + " is past its nextUpdate (crl_stale = \"reject\")";
    case X509_V_ERR_CRL_NOT_YET_VALID:
      return "revocation unknown: " + crl_named(crl, cert) + " is not valid yet";
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
      return "revocation unknown: the signature of " + crl_named(crl, cert) +
             " does not verify with the key of the CA certificate in the chain";
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
      return "revocation unknown: the certificate that signed " + crl_named(crl, cert) + " is not in the chain";
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
      return "revocation unknown: the CA that signed " + crl_named(crl, cert) +
             " may not sign CRLs (keyUsage without cRLSign)";
    case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
      return "revocation unknown: " + crl_named(crl, cert) + " has a critical extension OpenSSL cannot process";
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
      return std::string("revocation unknown: ") + X509_verify_cert_error_string(error) + " in " +
             crl_named(crl, cert);
    default:
      return std::nullopt;
  }
}

}  // namespace mtlsd::tls
