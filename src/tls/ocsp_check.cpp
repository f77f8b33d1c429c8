#include "mtlsd/tls/ocsp_check.hpp"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <deque>
#include <unordered_map>

#include "mtlsd/fetch/http_client.hpp"
#include "mtlsd/tls/handshake_verdict.hpp"
#include "mtlsd/tls/openssl.hpp"
#include "mtlsd/tls/server_context.hpp"
#include "mtlsd/identity/identity.hpp"
#include <openssl/async.h>
#include "tls/verify_callback.hpp"

namespace mtlsd::tls {
namespace {

// Answers without a nextUpdate ("newer information is always available",
// RFC 6960 section 4.2.2.1) and failures are kept briefly: long enough that
// a busy service does not ask for every handshake, short enough to notice a
// recovered responder.
constexpr std::int64_t short_cache_seconds = 30;
// A responder's clock may differ from ours by this much (thisUpdate ahead).
constexpr long clock_leeway_seconds = 300;
constexpr std::size_t cache_capacity = 4096;
constexpr std::size_t max_response_bytes = 1024 * 1024;

std::string der_of(OCSP_CERTID* id) {
  unsigned char* out = nullptr;
  const int length = i2d_OCSP_CERTID(id, &out);
  std::string bytes;
  if (length > 0) bytes.assign(reinterpret_cast<char*>(out), static_cast<std::size_t>(length));
  OPENSSL_free(out);
  return bytes;
}

const char* reason_name(int reason) {
  switch (reason) {
    case OCSP_REVOKED_STATUS_KEYCOMPROMISE: return "keyCompromise";
    case OCSP_REVOKED_STATUS_CACOMPROMISE: return "cACompromise";
    case OCSP_REVOKED_STATUS_AFFILIATIONCHANGED: return "affiliationChanged";
    case OCSP_REVOKED_STATUS_SUPERSEDED: return "superseded";
    case OCSP_REVOKED_STATUS_CESSATIONOFOPERATION: return "cessationOfOperation";
    case OCSP_REVOKED_STATUS_CERTIFICATEHOLD: return "certificateHold";
    case OCSP_REVOKED_STATUS_REMOVEFROMCRL: return "removeFromCRL";
    default: return nullptr;
  }
}

ocsp_answer unavailable(std::string why) { return {ocsp_status::unavailable, std::move(why), 0}; }

struct answer_cache {
  std::unordered_map<std::string, ocsp_answer> entries;
  std::deque<std::string> order;
};

answer_cache& worker_cache() {
  thread_local answer_cache cache;
  return cache;
}

}  // namespace

std::optional<ocsp_exchange> make_ocsp_exchange(X509* leaf, X509* issuer, const std::string& override_url,
                                                std::string& error) {
  ocsp_exchange exchange;
  exchange.url = override_url;
  if (exchange.url.empty()) {
    STACK_OF(OPENSSL_STRING)* urls = X509_get1_ocsp(leaf);
    for (int i = 0; urls && i < sk_OPENSSL_STRING_num(urls) && exchange.url.empty(); ++i) {
      std::string candidate = sk_OPENSSL_STRING_value(urls, i);
      std::string ignored;
      if (fetch::parse_http_url(candidate, ignored)) exchange.url = std::move(candidate);
    }
    X509_email_free(urls);
    if (exchange.url.empty()) {
      error = "the certificate names no http:// OCSP responder (Authority Information Access) and ocsp_url is not set";
      return std::nullopt;
    }
  }
  ossl::ocsp_certid_ptr id(OCSP_cert_to_id(EVP_sha1(), leaf, issuer));
  ossl::ocsp_request_ptr request(OCSP_REQUEST_new());
  if (!id || !request) {
    error = "cannot build the OCSP request: " + ossl::drain_errors();
    return std::nullopt;
  }
  exchange.cache_key = der_of(id.get()) + '\0' + exchange.url;
  // OCSP_request_add0_id takes the id on success.
  if (!OCSP_request_add0_id(request.get(), id.get())) {
    error = "cannot build the OCSP request: " + ossl::drain_errors();
    return std::nullopt;
  }
  id.release();
  unsigned char* der = nullptr;
  const int length = i2d_OCSP_REQUEST(request.get(), &der);
  if (length <= 0) {
    error = "cannot encode the OCSP request: " + ossl::drain_errors();
    return std::nullopt;
  }
  exchange.request.assign(reinterpret_cast<char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return exchange;
}

ocsp_answer judge_ocsp_response(const std::string& der, X509* leaf, X509* issuer, STACK_OF(X509)* untrusted,
                                X509_STORE* store, std::time_t now) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ossl::ocsp_response_ptr response(
      d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!response) {
    ERR_clear_error();
    return unavailable("the responder's answer is not an OCSP response");
  }
  const int status = OCSP_response_status(response.get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL)
    return unavailable(std::string("the responder answered ") + OCSP_response_status_str(status));
  ossl::ocsp_basic_ptr basic(OCSP_response_get1_basic(response.get()));
  if (!basic) {
    ERR_clear_error();
    return unavailable("the OCSP response holds no basic response");
  }
  // Signed by the issuer itself, or by a responder certificate the issuer
  // signed with OCSPSigning in its EKU; both chain to the truststore.
  if (OCSP_basic_verify(basic.get(), untrusted, store, 0) <= 0) {
    return unavailable("the OCSP response's signature or its responder's authority does not verify: " +
                       ossl::drain_errors("unknown reason"));
  }
  ossl::ocsp_certid_ptr id(OCSP_cert_to_id(EVP_sha1(), leaf, issuer));
  int cert_status = -1, reason = -1;
  ASN1_GENERALIZEDTIME *revoked_at = nullptr, *this_update = nullptr, *next_update = nullptr;
  if (!id || OCSP_resp_find_status(basic.get(), id.get(), &cert_status, &reason, &revoked_at, &this_update,
                                   &next_update) != 1) {
    ERR_clear_error();
    return unavailable("the OCSP response is not about this certificate");
  }
  if (OCSP_check_validity(this_update, next_update, clock_leeway_seconds, -1) != 1) {
    ERR_clear_error();
    return unavailable("the OCSP response is not current (thisUpdate " + ossl::iso8601(this_update) +
                       (next_update ? ", nextUpdate " + ossl::iso8601(next_update) : std::string()) + ")");
  }
  ocsp_answer answer;
  const std::int64_t until = next_update ? ossl::unix_time(next_update) : now + short_cache_seconds;
  answer.cache_until = std::max<std::int64_t>(until, now);
  const std::string times = "thisUpdate " + ossl::iso8601(this_update) +
                            (next_update ? ", nextUpdate " + ossl::iso8601(next_update) : std::string());
  switch (cert_status) {
    case V_OCSP_CERTSTATUS_GOOD:
      answer.status = ocsp_status::good;
      answer.detail = "OCSP status good (" + times + ")";
      break;
    case V_OCSP_CERTSTATUS_REVOKED: {
      answer.status = ocsp_status::revoked;
      answer.detail = "revoked at " + ossl::iso8601(revoked_at);
      if (const char* name = reason_name(reason)) answer.detail += std::string(", reason ") + name;
      answer.detail += " (OCSP, " + times + ")";
      break;
    }
    default:
      answer.status = ocsp_status::unknown;
      answer.detail = "the OCSP responder does not know this certificate (status unknown, " + times + ")";
      answer.cache_until = now + short_cache_seconds;
      break;
  }
  return answer;
}

std::optional<ocsp_answer> cached_ocsp_answer(const std::string& key, std::time_t now) {
  auto& cache = worker_cache();
  const auto it = cache.entries.find(key);
  if (it == cache.entries.end()) return std::nullopt;
  if (it->second.cache_until <= now) return std::nullopt;
  return it->second;
}

void remember_ocsp_answer(const std::string& key, const ocsp_answer& answer) {
  if (answer.cache_until == 0) return;
  auto& cache = worker_cache();
  if (auto [it, inserted] = cache.entries.insert_or_assign(key, answer); !inserted) return;
  cache.order.push_back(key);
  while (cache.order.size() > cache_capacity) {
    cache.entries.erase(cache.order.front());
    cache.order.pop_front();
  }
}

bool ocsp_admits(X509_STORE_CTX* store, X509* leaf, handshake_verdict& verdict) {
  const server_context& context = *verdict.context;
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(store);
  X509* issuer = chain && sk_X509_num(chain) > 1 ? sk_X509_value(chain, 1) : leaf;
  const std::time_t now = std::time(nullptr);
  std::optional<ocsp_answer> answer;
  std::string key;
  if (!verdict.ocsp) {
    std::string error;
    auto exchange = make_ocsp_exchange(leaf, issuer, context.ocsp_url(), error);
    if (!exchange) {
      answer = unavailable(error);
    } else if (auto cached = cached_ocsp_answer(exchange->cache_key, now)) {
      answer = std::move(cached);
    } else if (!ASYNC_get_current_job()) {
      answer = unavailable("the handshake cannot wait for the OCSP responder here");
    } else {
      exchange->timeout = context.ocsp_timeout();
      exchange->waiting = true;
      verdict.ocsp = std::make_unique<ocsp_exchange>(std::move(*exchange));
      // Back in SSL_accept's caller until answer_pending_ocsp has run.
      if (ASYNC_pause_job() != 1) answer = unavailable("cannot pause the handshake for the OCSP responder");
    }
  }
  if (!answer && verdict.ocsp) {
    ocsp_exchange& exchange = *verdict.ocsp;
    key = exchange.cache_key;
    if (!exchange.answered)
      answer = unavailable("the handshake ended before the OCSP responder answered");
    else if (exchange.response.empty())
      answer = unavailable("no answer from the OCSP responder " + exchange.url + ": " + exchange.error);
    else
      answer = judge_ocsp_response(exchange.response, leaf, issuer, X509_STORE_CTX_get0_untrusted(store),
                                   X509_STORE_CTX_get0_store(store), now);
    // A responder that fails is asked again only after a short while, so an
    // outage does not cost every handshake a timeout.
    if (answer->status == ocsp_status::unavailable) answer->cache_until = now + short_cache_seconds;
    remember_ocsp_answer(key, *answer);
    verdict.ocsp.reset();
  }
  if (!answer) answer = unavailable("no OCSP answer");

  const std::string fields = describe_certificate(leaf, 0);
  switch (answer->status) {
    case ocsp_status::good:
      return true;
    case ocsp_status::revoked:
      X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REVOKED);
      verdict.refuse(rejection_reason::revoked, fields + ": " + answer->detail);
      return false;
    case ocsp_status::unknown:
    case ocsp_status::unavailable:
      if (context.ocsp() == ocsp_mode::soft) {
        context.note_ocsp_soft_fail(distinguished_name(X509_get_subject_name(leaf)), answer->detail);
        return true;
      }
      X509_STORE_CTX_set_error(store, answer->status == ocsp_status::unknown ? X509_V_ERR_OCSP_CERT_UNKNOWN
                                                                             : X509_V_ERR_OCSP_VERIFY_FAILED);
      verdict.refuse(rejection_reason::revocation_unknown, fields + ": " + answer->detail + " (ocsp = hard)");
      return false;
  }
  return false;
}

boost::asio::awaitable<void> answer_pending_ocsp(SSL* ssl) {
  handshake_verdict* verdict = verdict_of(ssl);
  if (!verdict || !verdict->ocsp || !verdict->ocsp->waiting) co_return;
  ocsp_exchange& exchange = *verdict->ocsp;
  exchange.waiting = false;
  fetch::http_request request;
  std::string error;
  if (auto url = fetch::parse_http_url(exchange.url, error)) {
    request.url = std::move(*url);
    request.method = "POST";
    request.content_type = "application/ocsp-request";
    request.body = exchange.request;
    request.max_body = max_response_bytes;
    request.timeout = exchange.timeout;
    auto result = co_await fetch::http_fetch(std::move(request));
    if (result.ok)
      exchange.response = std::move(result.body);
    else
      exchange.error = std::move(result.error);
  } else {
    exchange.error = "invalid responder URL " + exchange.url + ": " + error;
  }
  exchange.answered = true;
}

}  // namespace mtlsd::tls
