#pragma once
// OpenSSL objects owned by unique_ptr with the matching free function, and the
// one way we turn OpenSSL's thread-local error queue into text.

#include <cstdint>
#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace mtlsd::ossl {

template <typename T, void (*Free)(T*)>
struct deleter {
  void operator()(T* p) const { Free(p); }
};

using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, deleter<SSL_CTX, SSL_CTX_free>>;
using ssl_ptr = std::unique_ptr<SSL, deleter<SSL, SSL_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;
using evp_md_ptr = std::unique_ptr<EVP_MD, deleter<EVP_MD, EVP_MD_free>>;
using ocsp_response_ptr = std::unique_ptr<OCSP_RESPONSE, deleter<OCSP_RESPONSE, OCSP_RESPONSE_free>>;
using ocsp_basic_ptr = std::unique_ptr<OCSP_BASICRESP, deleter<OCSP_BASICRESP, OCSP_BASICRESP_free>>;
using ocsp_certid_ptr = std::unique_ptr<OCSP_CERTID, deleter<OCSP_CERTID, OCSP_CERTID_free>>;
using ocsp_request_ptr = std::unique_ptr<OCSP_REQUEST, deleter<OCSP_REQUEST, OCSP_REQUEST_free>>;
using x509_store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;

// Drains the calling thread's error queue: "reason; reason" with the library's
// own reason strings, or `fallback` when the queue was empty.
std::string drain_errors(const std::string& fallback = "unknown OpenSSL error");

// "2026-11-23T18:39:36Z"; empty for a null time.
std::string iso8601(const ASN1_TIME* time);
// Seconds since the epoch (UTC); 0 for a null or unreadable time.
std::int64_t unix_time(const ASN1_TIME* time);

}  // namespace mtlsd::ossl
