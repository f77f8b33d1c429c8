#pragma once
// The verify callback installed on every server SSL_CTX (see verify.cpp).

typedef struct x509_store_ctx_st X509_STORE_CTX;
typedef struct ssl_st SSL;

namespace mtlsd::tls {

struct handshake_verdict;

int verify_callback(int preverify_ok, X509_STORE_CTX* store);

// The verdict attach() linked to `ssl`, or null.
handshake_verdict* verdict_of(SSL* ssl);

// The ClientHello callback installed on every server SSL_CTX: on a socket
// that serves several services, switches the SSL to the one the client's
// server name selects (server_name.cpp).
int select_by_server_name(SSL* ssl, int* alert, void* unused);

}  // namespace mtlsd::tls
