#include "mtlsd/tls/rejection.hpp"

#include <openssl/x509_vfy.h>

namespace mtlsd {

std::string_view to_string(rejection_reason reason) {
  switch (reason) {
    case rejection_reason::no_certificate: return "no_certificate";
    case rejection_reason::expired: return "expired";
    case rejection_reason::not_yet_valid: return "not_yet_valid";
    case rejection_reason::unknown_ca: return "unknown_ca";
    case rejection_reason::bad_signature: return "bad_signature";
    case rejection_reason::depth_exceeded: return "depth_exceeded";
    case rejection_reason::bad_eku: return "bad_eku";
    case rejection_reason::not_whitelisted: return "not_whitelisted";
    case rejection_reason::revoked: return "revoked";
    case rejection_reason::revocation_unknown: return "revocation_unknown";
    case rejection_reason::crl_stale: return "crl_stale";
    case rejection_reason::weak_key: return "weak_key";
    case rejection_reason::name_constraints: return "name_constraints";
    case rejection_reason::invalid_svid: return "invalid_svid";
    case rejection_reason::unrecognized_name: return "unrecognized_name";
    case rejection_reason::hostname_mismatch: return "hostname_mismatch";
    case rejection_reason::protocol_version: return "protocol_version";
    case rejection_reason::timeout: return "timeout";
    case rejection_reason::other: return "other";
  }
  return "other";
}

rejection_reason classify_verify_error(int x509_error) {
  switch (x509_error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return rejection_reason::expired;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return rejection_reason::hostname_mismatch;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return rejection_reason::not_yet_valid;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_CERT_UNTRUSTED:
      return rejection_reason::unknown_ca;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
      return rejection_reason::bad_signature;
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
      return rejection_reason::depth_exceeded;
    case X509_V_ERR_INVALID_PURPOSE:
      return rejection_reason::bad_eku;
    case X509_V_ERR_APPLICATION_VERIFICATION:
      return rejection_reason::not_whitelisted;
    case X509_V_ERR_CERT_REVOKED:
      return rejection_reason::revoked;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
    // A CRL that cannot be used says nothing about revocation either way.
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
    case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
    case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
      return rejection_reason::revocation_unknown;
    case X509_V_ERR_CRL_HAS_EXPIRED:
      return rejection_reason::crl_stale;
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL:
      return rejection_reason::weak_key;
    case X509_V_ERR_PERMITTED_VIOLATION:
    case X509_V_ERR_EXCLUDED_VIOLATION:
    case X509_V_ERR_SUBTREE_MINMAX:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
    case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
      return rejection_reason::name_constraints;
    default:
      return rejection_reason::other;
  }
}

}  // namespace mtlsd
