#pragma once
// The verify callback installed on every server SSL_CTX (see verify.cpp).

#include <string>

typedef struct x509_store_ctx_st X509_STORE_CTX;
typedef struct ssl_st SSL;
typedef struct x509_st X509;

namespace mtlsd::tls {

struct handshake_verdict;
class server_context;

int verify_callback(int preverify_ok, X509_STORE_CTX* store);

// The verdict attach() linked to `ssl`, or null.
handshake_verdict* verdict_of(SSL* ssl);

// The ClientHello callback installed on every server SSL_CTX: on a socket
// that serves several services, switches the SSL to the one the client's
// server name selects (server_name.cpp).
int select_by_server_name(SSL* ssl, int* alert, void* unused);

// OCSP for the verified leaf (ocsp_check.cpp): true to go on, false with
// the refusal recorded in `verdict`. May pause the handshake's async job
// until the responder has answered.
bool ocsp_admits(X509_STORE_CTX* store, X509* leaf, handshake_verdict& verdict);

// The detail a refusal logs, shared with the live re-evaluation
// (live_judge.hpp) so that both name certificates and errors alike:
// the certificate's fields ("subject=... issuer=... not_before=...
// not_after=... [depth=N]")...
std::string describe_certificate(X509* cert, int depth);
// ...and those followed by what is wrong, for the store's current error.
std::string describe_verify_error(int error, X509_STORE_CTX* store, const server_context* context);

}  // namespace mtlsd::tls
