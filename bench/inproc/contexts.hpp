// TLS contexts for mtlsd-inproc: both ends of the handshake in one process.
// Owned by the benchmark helper (bench/inproc).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "openssl_errors.hpp"

namespace mtlsd::bench {

struct ssl_ctx_free_fn {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_free_fn>;

struct inproc_files {
  std::string server_cert, server_key, client_cert, client_key;
  std::string client_ca;  // issues client certificates: the server's truststore
  std::string server_ca;  // issues the server certificate: the client's trust anchor
};

// How the server hands out sessions. OpenSSL's defaults (two stateless
// tickets per full handshake) give the reference ceiling; `like_mtlsd` is
// what mtlsd does without session_ticket_key_file (one ticket naming a
// session kept in memory), to show what that choice is worth on its own.
enum class session_style { openssl_default, like_mtlsd };

// An mTLS server: peer certificate required and verified, no renegotiation
// or compression. Same suite and group as mtlsd-loadgen.
ssl_ctx_ptr make_server_context(const inproc_files& files, bool tls13_only, session_style sessions,
                                std::string& error);

// A client like mtlsd-loadgen's; new sessions go to the SSL_CTX's
// new-session callback, which the caller installs.
ssl_ctx_ptr make_client_context(const inproc_files& files, bool tls13_only, std::string& error);


}  // namespace mtlsd::bench
