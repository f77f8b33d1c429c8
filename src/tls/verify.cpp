// Certificate verification hooks: the verify callback records the first
// reason a chain is refused, in words that name the certificate, and enforces
// the service's whitelist on the leaf while the handshake is still running —
// so a refused client gets an alert instead of a connection that opens and drops.

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "mtlsd/identity/identity.hpp"
#include "mtlsd/tls/chain_policy.hpp"
#include "mtlsd/tls/handshake_verdict.hpp"
#include "mtlsd/tls/openssl.hpp"
#include "mtlsd/tls/server_context.hpp"
#include "tls/revocation_text.hpp"
#include "tls/verify_callback.hpp"

namespace mtlsd::tls {
namespace {

int verdict_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

std::string eku_names(X509* cert) {
  const uint32_t flags = X509_get_extended_key_usage(cert);
  if (flags == UINT32_MAX) return "none";
  std::string names;
  auto add = [&](uint32_t bit, const char* name) {
    if (flags & bit) names += (names.empty() ? "" : ",") + std::string(name);
  };
  add(XKU_SSL_SERVER, "serverAuth");
  add(XKU_SSL_CLIENT, "clientAuth");
  add(XKU_SMIME, "emailProtection");
  add(XKU_CODE_SIGN, "codeSigning");
  add(XKU_OCSP_SIGN, "OCSPSigning");
  add(XKU_TIMESTAMP, "timeStamping");
  return names.empty() ? "other" : names;
}

// Every detail starts by naming the certificate the same way, then says what
// is wrong with it: ops can grep for the subject and read the verdict.
std::string certificate_fields(X509* cert, int depth) {
  std::string text = "subject=\"" + distinguished_name(X509_get_subject_name(cert)) + "\" issuer=\"" +
                     distinguished_name(X509_get_issuer_name(cert)) + "\"";
  text += " not_before=" + ossl::iso8601(X509_get0_notBefore(cert));
  text += " not_after=" + ossl::iso8601(X509_get0_notAfter(cert));
  if (depth > 0) text += " depth=" + std::to_string(depth);
  return text;
}

std::string explain(int error, X509* cert, const server_context* context) {
  switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate is not valid yet";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return "self-signed certificate that is not in the truststore";
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "chain ends in a self-signed CA that is not in the truststore";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return std::string("no path to a CA in the truststore (") + X509_verify_cert_error_string(error) + ")";
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
      return "chain has more intermediate CAs than verify_depth = " +
             std::to_string(context ? context->verify_depth() : -1) + " allows";
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
      return "chain breaks a CA's path length constraint (pathlen)";
    case X509_V_ERR_INVALID_PURPOSE:
      return "not valid for client authentication: extendedKeyUsage allows " + eku_names(cert) +
             " but not clientAuth (or keyUsage forbids signing)";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "signature does not verify with the issuer's key";
    default:
      return X509_verify_cert_error_string(error);
  }
}

std::string describe(int error, X509* cert, int depth, const server_context* context,
                     X509_STORE_CTX* store = nullptr) {
  if (!cert) return X509_verify_cert_error_string(error);
  if (auto text = explain_revocation(error, store, cert)) return certificate_fields(cert, depth) + ": " + *text;
  return certificate_fields(cert, depth) + ": " + explain(error, cert, context);
}

// OpenSSL's own key-size (security level) and name-constraint refusals, in
// the words of the chain policy checks, which name the key, the CA and the
// name. Empty when `error` is none of these.
std::string policy_explanation(int error, X509_STORE_CTX* store, X509* cert, int depth) {
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(store);
  const int length = chain ? sk_X509_num(chain) : 0;
  chain_check check;
  switch (error) {
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL:
      check = check_key_strength(cert, role_at(depth, length));
      break;
    case X509_V_ERR_PERMITTED_VIOLATION:
    case X509_V_ERR_EXCLUDED_VIOLATION:
    case X509_V_ERR_SUBTREE_MINMAX:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
    case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
      check = check_name_constraints(chain, depth);
      break;
    default:
      return {};
  }
  return check.passed ? std::string() : check.detail;
}

// mtlsd's chain policy (chain_policy.hpp) on one certificate OpenSSL has
// verified; OpenSSL walks the chain from the anchor down, so every
// certificate comes by here and the leaf comes last.
chain_check apply_chain_policy(X509_STORE_CTX* store, X509* cert, int depth, const server_context& context) {
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(store);
  const int length = chain ? sk_X509_num(chain) : 0;
  chain_check check = check_key_strength(cert, role_at(depth, length));
  // OpenSSL checks name constraints only after the whole chain has passed
  // this callback, that is after the whitelist; checked here, a constrained
  // name is refused as what it is rather than as not_whitelisted.
  if (check.passed) check = check_name_constraints(chain, depth);
  if (check.passed && depth == 0) check = check_client_auth_eku(cert, context.require_client_auth_eku());
  return check;
}

const char* version_name(int version) {
  switch (version) {
    case SSL3_VERSION: return "SSLv3";
    case TLS1_VERSION: return "TLSv1.0";
    case TLS1_1_VERSION: return "TLSv1.1";
    case TLS1_2_VERSION: return "TLSv1.2";
    case TLS1_3_VERSION: return "TLSv1.3";
    default: return "an unknown version";
  }
}

}  // namespace

std::string describe_certificate(X509* cert, int depth) { return certificate_fields(cert, depth); }

std::string describe_verify_error(int error, X509_STORE_CTX* store, const server_context* context) {
  return describe(error, X509_STORE_CTX_get_current_cert(store), X509_STORE_CTX_get_error_depth(store), context,
                  store);
}

void attach(SSL* ssl, handshake_verdict* verdict) { SSL_set_ex_data(ssl, verdict_index(), verdict); }

handshake_verdict* verdict_of(SSL* ssl) { return static_cast<handshake_verdict*>(SSL_get_ex_data(ssl, verdict_index())); }

int verify_callback(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* verdict = ssl ? verdict_of(ssl) : nullptr;
  if (!verdict || !verdict->context) return 0;  // fail closed: a connection we cannot account for

  const int depth = X509_STORE_CTX_get_error_depth(store);
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (!preverify_ok) {
    const int error = X509_STORE_CTX_get_error(store);
    if (error == X509_V_ERR_CRL_HAS_EXPIRED &&
        verdict->context->tolerate_stale_crl(X509_STORE_CTX_get0_current_crl(store), cert))
      return 1;
    // The access line names whoever was refused, whatever the reason.
    if (!verdict->identity) {
      if (X509* leaf = X509_STORE_CTX_get0_cert(store)) verdict->identity = extract_identity(leaf);
    }
    const std::string why = cert ? policy_explanation(error, store, cert, depth) : std::string();
    verdict->refuse(classify_verify_error(error), why.empty() ? describe(error, cert, depth, verdict->context, store)
                                                              : certificate_fields(cert, depth) + ": " + why);
    return 0;
  }
  if (cert && !verdict->refused) {
    const chain_check check = apply_chain_policy(store, cert, depth, *verdict->context);
    if (!check.passed) {
      if (!verdict->identity) {
        if (X509* leaf = X509_STORE_CTX_get0_cert(store)) verdict->identity = extract_identity(leaf);
      }
      X509_STORE_CTX_set_error(store, check.verify_error);
      verdict->refuse(check.reason, certificate_fields(cert, depth) + ": " + check.detail);
      return 0;
    }
  }
  // OpenSSL calls back from the trust anchor down; depth 0 with no error means
  // the whole chain verified, so this is where the whitelist decides.
  if (depth == 0 && cert && !verdict->refused) {
    client_identity identity = extract_identity(cert);
    const admission decision = admit(identity, verdict->context->policy());
    verdict->identity = std::move(identity);
    if (!decision.allowed) {
      // OpenSSL maps this code to a handshake_failure alert; no verification
      // error maps to access_denied, which would be the better word.
      X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
      if (decision.invalid_svid) {
        verdict->refuse(rejection_reason::invalid_svid,
                        certificate_fields(cert, 0) +
                            ": not a valid X.509-SVID, which the service's spiffe_* allow rules require: " +
                            decision.detail);
        return 0;
      }
      verdict->refuse(rejection_reason::not_whitelisted,
                      certificate_fields(cert, 0) + ": no allow rule matched " + decision.detail);
      return 0;
    }
    // Last, after the cheap checks: it may cost a round trip to the responder.
    if (verdict->context->ocsp() != ocsp_mode::off && !ocsp_admits(store, cert, *verdict)) return 0;
  }
  return 1;
}

void explain_failure(SSL* ssl, handshake_verdict& verdict) {
  if (verdict.refused) {
    ERR_clear_error();
    return;
  }
  const unsigned long first = ERR_peek_error();
  const int reason = ERR_GET_LIB(first) == ERR_LIB_SSL ? ERR_GET_REASON(first) : 0;
  switch (reason) {
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      verdict.refuse(rejection_reason::no_certificate, "client sent no certificate (verify_client = require)");
      break;
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_BAD_LEGACY_VERSION:
      verdict.refuse(rejection_reason::protocol_version,
                     std::string("client offered ") + version_name(SSL_client_version(ssl)) +
                         " at most; min_tls_version = " +
                         (SSL_get_min_proto_version(ssl) == TLS1_3_VERSION ? "1.3" : "1.2"));
      break;
    case SSL_R_HTTP_REQUEST:
      verdict.refuse(rejection_reason::other, "client sent a plain HTTP request to a TLS port");
      break;
    case SSL_R_NO_SHARED_CIPHER:
      verdict.refuse(rejection_reason::other, "no cipher suite in common with the client");
      break;
    default:
      verdict.refuse(rejection_reason::other,
                     ossl::drain_errors("client closed the connection during the handshake"));
      break;
  }
  ERR_clear_error();
}

}  // namespace mtlsd::tls
