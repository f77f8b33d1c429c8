#include "mtlsd/tls/ocsp_staple.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>

#include <ctime>
#include <memory>

#include "mtlsd/tls/openssl.hpp"

namespace mtlsd::tls {
namespace {

using response_ptr = ossl::ocsp_response_ptr;
using basic_ptr = ossl::ocsp_basic_ptr;
using certid_ptr = ossl::ocsp_certid_ptr;

// The single response about `leaf`. Responders choose the CertID hash
// (usually SHA-1), so ours is made with the hash each entry names.
OCSP_SINGLERESP* find_status(OCSP_BASICRESP* basic, X509* leaf, X509* issuer) {
  for (int i = 0; i < OCSP_resp_count(basic); ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(basic, i);
    const OCSP_CERTID* theirs = OCSP_SINGLERESP_get0_id(single);
    ASN1_OBJECT* hash = nullptr;
    if (OCSP_id_get0_info(nullptr, &hash, nullptr, nullptr, const_cast<OCSP_CERTID*>(theirs)) != 1 || !hash)
      continue;
    const EVP_MD* md = EVP_get_digestbyobj(hash);
    if (!md) continue;
    certid_ptr ours(OCSP_cert_to_id(md, leaf, issuer));
    if (ours && OCSP_id_cmp(ours.get(), theirs) == 0) return single;
  }
  return nullptr;
}

int staple_status(SSL* ssl, void* arg) {
  const auto* staple = static_cast<const ocsp_staple*>(arg);
  if (!staple || !staple->current_at(std::time(nullptr))) return SSL_TLSEXT_ERR_NOACK;
  // OpenSSL takes ownership of the buffer and frees it with the connection.
  auto* copy = static_cast<unsigned char*>(OPENSSL_memdup(staple->der.data(), staple->der.size()));
  if (!copy) return SSL_TLSEXT_ERR_NOACK;
  if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(staple->der.size())) != 1) {
    OPENSSL_free(copy);
    return SSL_TLSEXT_ERR_NOACK;
  }
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

bool ocsp_staple::current_at(std::int64_t now) const {
  if (now + ocsp_clock_skew_seconds < this_update_unix) return false;
  return !next_update_unix || now < *next_update_unix;
}

std::optional<ocsp_staple> parse_ocsp_staple(std::string_view der, X509* leaf, X509* issuer, std::int64_t now,
                                             std::string& error, std::vector<std::string>& warnings) {
  ERR_clear_error();
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  response_ptr response(d2i_OCSP_RESPONSE(nullptr, &cursor, static_cast<long>(der.size())));
  if (!response || cursor != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    error = "not a DER OCSP response" + (response ? std::string(" (unexpected bytes after it)")
                                                  : ": " + ossl::drain_errors("cannot parse"));
    ERR_clear_error();
    return std::nullopt;
  }
  const int status = OCSP_response_status(response.get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    error = std::string("OCSP response status is ") + OCSP_response_status_str(status) + ", not successful";
    return std::nullopt;
  }
  basic_ptr basic(OCSP_response_get1_basic(response.get()));
  if (!basic) {
    error = "OCSP response holds no basic response: " + ossl::drain_errors("unsupported response type");
    ERR_clear_error();
    return std::nullopt;
  }
  OCSP_SINGLERESP* single = find_status(basic.get(), leaf, issuer);
  ERR_clear_error();
  if (!single) {
    error = "the OCSP response is not about the server certificate (no status for its serial number and issuer)";
    return std::nullopt;
  }
  int reason = 0;
  ASN1_GENERALIZEDTIME *revoked_at = nullptr, *this_update = nullptr, *next_update = nullptr;
  const int cert_status = OCSP_single_get0_status(single, &reason, &revoked_at, &this_update, &next_update);

  ocsp_staple staple;
  staple.der.assign(der.data(), der.size());
  staple.cert_status = OCSP_cert_status_str(cert_status);
  staple.this_update = ossl::iso8601(this_update);
  staple.this_update_unix = ossl::unix_time(this_update);
  if (next_update) {
    staple.next_update = ossl::iso8601(next_update);
    staple.next_update_unix = ossl::unix_time(next_update);
  }
  if (cert_status == V_OCSP_CERTSTATUS_REVOKED)
    warnings.push_back("the OCSP response says the server certificate is revoked (since " +
                       ossl::iso8601(revoked_at) + "); clients that check will refuse it: replace the certificate");
  else if (cert_status != V_OCSP_CERTSTATUS_GOOD)
    warnings.push_back("the OCSP response says the server certificate's status is " + staple.cert_status);
  if (staple.next_update_unix && now >= *staple.next_update_unix)
    warnings.push_back("the OCSP response is past its nextUpdate " + staple.next_update +
                       " and is not stapled; fetch a fresh one and reload");
  else if (now + ocsp_clock_skew_seconds < staple.this_update_unix)
    warnings.push_back("the OCSP response is not valid before its thisUpdate " + staple.this_update +
                       " and is not stapled until then");
  return staple;
}

void install_ocsp_stapling(SSL_CTX* ctx, const ocsp_staple* staple) {
  SSL_CTX_set_tlsext_status_cb(ctx, staple_status);
  SSL_CTX_set_tlsext_status_arg(ctx, const_cast<ocsp_staple*>(staple));
}

}  // namespace mtlsd::tls
