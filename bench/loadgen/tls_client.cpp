// Owned by the benchmark helper (bench/loadgen).
#include "tls_client.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>

namespace mtlsd::bench {

ssl_ctx_ptr make_client_context(const loadgen_options& options, std::string& error) {
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    error = "SSL_CTX_new: " + drain_openssl_errors();
    return nullptr;
  }
  SSL_CTX* c = ctx.get();
  // Fixed suite and group so every proxy under test does the same key
  // exchange and bulk cipher; the comparison is then about the proxies.
  const bool ok =
      SSL_CTX_set_min_proto_version(c, options.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION) == 1 &&
      SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) == 1 &&
      SSL_CTX_set_ciphersuites(c, "TLS_AES_128_GCM_SHA256") == 1 &&
      SSL_CTX_set_cipher_list(c, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256") == 1 &&
      SSL_CTX_set1_groups_list(c, "X25519") == 1;
  if (!ok) {
    error = "TLS parameters: " + drain_openssl_errors();
    return nullptr;
  }
  if (SSL_CTX_use_certificate_chain_file(c, options.cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(c, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(c) != 1) {
    error = "client certificate/key (" + options.cert_file + ", " + options.key_file + "): " + drain_openssl_errors();
    return nullptr;
  }
  if (SSL_CTX_load_verify_locations(c, options.ca_file.c_str(), nullptr) != 1) {
    error = "CA file " + options.ca_file + ": " + drain_openssl_errors();
    return nullptr;
  }
  // The chain is verified (a real client would); the name is not, because
  // bench certificates name no particular host.
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  // Sessions reach us only through the new-session callback (resume mode);
  // the internal store would add a lock and a hash insert per connection.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  // The write buffer is always the same static one, but the flag keeps a
  // retried SSL_write legal whatever the buffer address.
  SSL_CTX_set_mode(c, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (options.mode == load_mode::idle) {
    // 10,000 held connections would otherwise keep ~34 KiB of record
    // buffers each; the held connections carry no traffic.
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  }
  return ctx;
}

std::string describe_ssl_failure(SSL* ssl, int ret, int ssl_error) {
  std::string text;
  switch (ssl_error) {
    case SSL_ERROR_ZERO_RETURN:
      text = "peer sent close_notify";
      break;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() != 0) {
        text = drain_openssl_errors();
      } else if (ret == 0 || errno == 0) {
        text = "connection closed by peer";
      } else {
        text = std::strerror(errno);
      }
      break;
    default:
      text = drain_openssl_errors();
      break;
  }
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    text += " (server certificate: ";
    text += X509_verify_cert_error_string(verify);
    text += ")";
  }
  ERR_clear_error();
  return text;
}

}  // namespace mtlsd::bench
