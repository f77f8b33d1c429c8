#pragma once
// Owner: tls module (private). The protocol settings both sides of mtlsd
// share — the accept side's server contexts and the client contexts towards
// tls:// backends — so that one policy decides what mtlsd speaks.

#include <openssl/ssl.h>

#include "mtlsd/config/config.hpp"

namespace mtlsd::tls::detail {

// What we sign with and accept signatures in: ECDSA, EdDSA and RSA (PSS
// preferred) with SHA-2. No DSA, no SHA-1.
inline constexpr const char* signature_algorithms =
    "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ed25519:ed448:"
    "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
    "rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:"
    "RSA+SHA256:RSA+SHA384:RSA+SHA512";

// Minimum version, security level 2, forward-secret AEAD suites, groups and
// signature algorithms, no compression or renegotiation, and the I/O modes
// the non-blocking stream relies on. False (OpenSSL's error queue holds why)
// when OpenSSL refuses a list.
bool apply_protocol_defaults(SSL_CTX* ctx, tls_version min_version);

}  // namespace mtlsd::tls::detail
