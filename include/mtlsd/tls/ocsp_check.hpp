#pragma once
// OCSP for client certificates (ocsp = "soft" | "hard"), asked in the middle
// of the handshake without blocking the event loop. OpenSSL 3.0 cannot
// suspend a server's certificate verification directly
// (SSL_set_retry_verify is client-side only), so services with OCSP run
// their handshakes as OpenSSL async jobs (SSL_MODE_ASYNC): the verify
// callback parks the job with ASYNC_pause_job(), SSL_accept returns
// SSL_ERROR_WANT_ASYNC, the session's coroutine asks the responder
// (answer_pending_ocsp) while the worker serves everyone else, and the next
// SSL_accept resumes the callback where it stopped, now with the answer.
//
// Answers are judged here: the response must be signed by the certificate's
// issuer or by a responder that issuer delegated to (OCSPSigning), be about
// this certificate, and be current. Judged answers are cached per worker
// until their nextUpdate.

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace mtlsd::tls {

enum class ocsp_status { good, revoked, unknown, unavailable };

struct ocsp_answer {
  ocsp_status status = ocsp_status::unavailable;
  std::string detail;            // for the log: what the responder said, or why there is no answer
  std::int64_t cache_until = 0;  // unix time; 0: not cached
};

// One handshake's question to a responder, and the bytes it answered.
struct ocsp_exchange {
  std::string url;
  std::string request;      // DER OCSPRequest
  std::string cache_key;    // DER CertID + url
  std::chrono::milliseconds timeout{3000};
  bool waiting = false;     // set by the verify callback before it pauses
  bool answered = false;
  std::string response;     // DER OCSPResponse when the exchange worked
  std::string error;        // why it did not
};

// The question for `leaf`, issued by `issuer`, to `override_url` or the
// responder in the leaf's Authority Information Access; nullopt with
// `error` when there is none or the request cannot be built.
std::optional<ocsp_exchange> make_ocsp_exchange(X509* leaf, X509* issuer, const std::string& override_url,
                                                std::string& error);

// Judges a responder's DER answer about `leaf`. `store` holds the trust
// anchors, `untrusted` the chain the client sent (the issuer and any
// delegated responder chain up through them).
ocsp_answer judge_ocsp_response(const std::string& der, X509* leaf, X509* issuer, STACK_OF(X509)* untrusted,
                                X509_STORE* store, std::time_t now);

// This worker's cache (thread-local, bounded; the oldest entries go first).
std::optional<ocsp_answer> cached_ocsp_answer(const std::string& key, std::time_t now);
void remember_ocsp_answer(const std::string& key, const ocsp_answer& answer);

// Asks the responder for the exchange the verify callback of `ssl` left
// waiting (nothing when none is). Runs on the session's executor.
boost::asio::awaitable<void> answer_pending_ocsp(SSL* ssl);

}  // namespace mtlsd::tls
