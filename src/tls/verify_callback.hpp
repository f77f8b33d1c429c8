#pragma once
// The verify callback installed on every server SSL_CTX (see verify.cpp).

typedef struct x509_store_ctx_st X509_STORE_CTX;

namespace mtlsd::tls {

int verify_callback(int preverify_ok, X509_STORE_CTX* store);

}  // namespace mtlsd::tls
