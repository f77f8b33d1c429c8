#pragma once
// The fixed vocabulary of reasons a client is refused. The same words appear in
// log lines, metrics labels, `mtlsd check`/`verify` output and the docs
// (docs/troubleshooting.md) — never invent a synonym elsewhere.

#include <cstddef>
#include <string_view>

namespace mtlsd {

enum class rejection_reason {
  no_certificate,    // verify_client = require and the client sent none
  expired,           // a certificate in the chain is past notAfter
  not_yet_valid,     // a certificate in the chain is before notBefore
  unknown_ca,        // no path to the truststore (includes self-signed)
  bad_signature,     // a signature in the chain does not verify
  depth_exceeded,    // more intermediates than verify_depth
  bad_eku,           // extendedKeyUsage present without clientAuth
  not_whitelisted,   // chain verified, identity not in [service.allow]
  revoked,           // a certificate in the chain is revoked (CRL or OCSP)
  revocation_unknown,  // revocation could not be established: no CRL for an issuer, OCSP unknown/unreachable (hard)
  crl_stale,         // the issuer's CRL is past nextUpdate and crl_stale = "reject"
  weak_key,          // a key below the minimum size (RSA 2048, EC 256) or of a refused type (DSA)
  name_constraints,  // a name in the chain violates a CA's nameConstraints
  invalid_svid,      // the leaf breaks the SPIFFE X.509-SVID rules
  unrecognized_name,  // SNI matches no service on the address and there is no default
  hostname_mismatch,  // a tls:// backend's certificate does not name upstream.server_name
  protocol_version,  // client offered only versions below min_tls_version
  timeout,           // handshake_timeout passed
  other,             // anything else: malformed input, no shared cipher, reset
};

// For tables indexed by reason (metrics): `other` is the last enumerator.
inline constexpr std::size_t rejection_reason_count = static_cast<std::size_t>(rejection_reason::other) + 1;

std::string_view to_string(rejection_reason);

// Maps an X509_V_ERR_* code from certificate verification to the vocabulary.
rejection_reason classify_verify_error(int x509_error);

}  // namespace mtlsd
