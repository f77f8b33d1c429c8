// Owner: tls module. See protocol_defaults.hpp.
#include "tls/protocol_defaults.hpp"

namespace mtlsd::tls::detail {
namespace {

// Forward secrecy and AEAD only. TLS 1.3 suites are all AEAD; AES-128 first
// because it is the cheapest with AES-NI and as strong as needed here.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* tls13_suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* groups = "X25519:P-256:P-384";

}  // namespace

bool apply_protocol_defaults(SSL_CTX* ctx, tls_version min_version) {
  SSL_CTX_set_min_proto_version(ctx, min_version == tls_version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_security_level(ctx, 2);
  // Renegotiation is off (OpenSSL 3 already refuses client-initiated
  // renegotiation by default; this also stops server-initiated). A clean EOF
  // without close_notify is treated as a half-close, as a plain-TCP peer
  // would see it anyway.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read whatever the socket holds into OpenSSL's record buffer in one call;
  // without this OpenSSL reads each record's 5-byte header and its body with
  // two separate read(2)s. Bytes read ahead show up as SSL_has_pending.
  SSL_CTX_set_read_ahead(ctx, 1);
  return SSL_CTX_set_cipher_list(ctx, tls12_ciphers) == 1 && SSL_CTX_set_ciphersuites(ctx, tls13_suites) == 1 &&
         SSL_CTX_set1_groups_list(ctx, groups) == 1 && SSL_CTX_set1_sigalgs_list(ctx, signature_algorithms) == 1;
}

}  // namespace mtlsd::tls::detail
