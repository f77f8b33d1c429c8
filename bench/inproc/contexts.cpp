// Owned by the benchmark helper (bench/inproc).
#include "contexts.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

namespace mtlsd::bench {
namespace {

bool set_common(SSL_CTX* ctx, bool tls13_only) {
  return SSL_CTX_set_min_proto_version(ctx, tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION) == 1 &&
         SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
         SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") == 1 &&
         SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256") == 1 &&
         SSL_CTX_set1_groups_list(ctx, "X25519") == 1;
}

bool load_identity(SSL_CTX* ctx, const std::string& cert, const std::string& key) {
  return SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) == 1 &&
         SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) == 1 && SSL_CTX_check_private_key(ctx) == 1;
}

}  // namespace

ssl_ctx_ptr make_server_context(const inproc_files& files, bool tls13_only, session_style sessions,
                                std::string& error) {
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx || !set_common(ctx.get(), tls13_only)) {
    error = "server TLS parameters: " + drain_openssl_errors();
    return nullptr;
  }
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (!load_identity(c, files.server_cert, files.server_key)) {
    error = "server certificate/key: " + drain_openssl_errors();
    return nullptr;
  }
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca.c_str());
  if (names == nullptr || SSL_CTX_load_verify_locations(c, files.client_ca.c_str(), nullptr) != 1) {
    if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
    error = "client CA " + files.client_ca + ": " + drain_openssl_errors();
    return nullptr;
  }
  // Acceptable-CA names in the CertificateRequest, as a real mTLS server sends.
  SSL_CTX_set_client_CA_list(c, names);
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // OpenSSL refuses to resume a session whose context is unset when peer
  // verification is on (a session from one service must not authenticate a
  // client to another), so a resuming server has to set one.
  static const unsigned char sid_context[] = "mtlsd-inproc";
  SSL_CTX_set_session_id_context(c, sid_context, sizeof sid_context - 1);
  if (sessions == session_style::like_mtlsd) {
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_num_tickets(c, 1);
  }
  return ctx;
}

ssl_ctx_ptr make_client_context(const inproc_files& files, bool tls13_only, std::string& error) {
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx || !set_common(ctx.get(), tls13_only)) {
    error = "client TLS parameters: " + drain_openssl_errors();
    return nullptr;
  }
  SSL_CTX* c = ctx.get();
  if (!load_identity(c, files.client_cert, files.client_key)) {
    error = "client certificate/key: " + drain_openssl_errors();
    return nullptr;
  }
  if (SSL_CTX_load_verify_locations(c, files.server_ca.c_str(), nullptr) != 1) {
    error = "server CA " + files.server_ca + ": " + drain_openssl_errors();
    return nullptr;
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  return ctx;
}

}  // namespace mtlsd::bench
