// The load generator's TLS client configuration and OpenSSL error text.
// Owned by the benchmark helper (bench/loadgen).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "openssl_errors.hpp"

#include "options.hpp"

namespace mtlsd::bench {

struct ssl_ctx_free_fn {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_free_fn>;

// One context per worker thread: certificate, key and CA store are parsed
// once here, never per connection. Returns null and sets error on failure.
ssl_ctx_ptr make_client_context(const loadgen_options& options, std::string& error);

// Why an SSL call failed (ret is its return value, ssl_error what
// SSL_get_error said). Drains this thread's OpenSSL error queue, which must
// be empty before the next SSL I/O call for SSL_get_error to be reliable.
std::string describe_ssl_failure(SSL* ssl, int ret, int ssl_error);

// Drains the error queue into one line.

}  // namespace mtlsd::bench
