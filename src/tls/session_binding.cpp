#include "tls/session_binding.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mtlsd::tls {
namespace {

// Length-prefixed, so that no two different policies feed the same bytes.
class policy_digest {
 public:
  policy_digest() : md_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(md_, EVP_sha256(), nullptr); }
  ~policy_digest() { EVP_MD_CTX_free(md_); }
  policy_digest(const policy_digest&) = delete;
  policy_digest& operator=(const policy_digest&) = delete;

  void add(std::string_view text) {
    add_number(text.size());
    EVP_DigestUpdate(md_, text.data(), text.size());
  }
  void add_number(std::uint64_t value) {
    unsigned char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(value >> (8 * i));
    EVP_DigestUpdate(md_, bytes, sizeof bytes);
  }
  // The order rules are written in does not change their meaning.
  void add_set(std::string_view name, std::vector<std::string> values) {
    std::sort(values.begin(), values.end());
    add(name);
    add_number(values.size());
    for (const auto& v : values) add(v);
  }
  // False when OpenSSL could not digest (out of memory): no resumption then.
  bool finish(std::array<unsigned char, 32>& out) {
    unsigned int length = 0;
    return md_ && EVP_DigestFinal_ex(md_, out.data(), &length) == 1 && length == out.size();
  }

 private:
  EVP_MD_CTX* md_;
};

std::vector<std::string> truststore_fingerprints(SSL_CTX* ctx) {
  std::vector<std::string> prints;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (cert && X509_digest(cert, EVP_sha256(), md, &length) == 1)
      prints.emplace_back(reinterpret_cast<const char*>(md), length);
  }
  return prints;
}

std::vector<std::string> crl_fingerprints(SSL_CTX* ctx) {
  std::vector<std::string> prints;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509_CRL* crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objects, i));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (crl && X509_CRL_digest(crl, EVP_sha256(), md, &length) == 1)
      prints.emplace_back(reinterpret_cast<const char*>(md), length);
  }
  return prints;
}

}  // namespace

void bind_sessions_to_policy(SSL_CTX* ctx, const service_config& service) {
  policy_digest d;
  d.add("mtlsd session context v1");
  d.add(service.name);
  d.add_number(static_cast<std::uint64_t>(service.verify_client));
  d.add_number(static_cast<std::uint64_t>(service.verify_depth));
  d.add_set("truststore", truststore_fingerprints(ctx));
  const allow_rules none;
  const allow_rules& allow = service.allow ? *service.allow : none;
  d.add_number(service.allow ? 1 : 0);
  d.add_set("cn", allow.cn);
  d.add_set("ou", allow.ou);
  d.add_set("o", allow.o);
  d.add_set("dns", allow.dns);
  d.add_set("uri", allow.uri);
  d.add_set("ip", allow.ip);
  d.add_set("email", allow.email);
  d.add_set("sha256", allow.sha256);
  d.add_set("spiffe_trust_domain", allow.spiffe_trust_domain);
  d.add_set("spiffe_id", allow.spiffe_id);
  d.add_number(service.require_client_auth_eku ? 1 : 0);
  // A session admitted before a certificate was revoked must not resume
  // under the CRL that revokes it. Added only with CRLs, so that contexts
  // without any keep the context (and the sessions) they had before.
  if (!service.crl.empty()) {
    d.add_set("crl", crl_fingerprints(ctx));
    d.add_number(static_cast<std::uint64_t>(service.crl_stale));
  }
  std::array<unsigned char, 32> id{};
  static_assert(id.size() <= SSL_MAX_SID_CTX_LENGTH);
  if (!d.finish(id)) {
    // Never resume under a context that does not describe the policy.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
  SSL_CTX_set_session_id_context(ctx, id.data(), static_cast<unsigned int>(id.size()));
}

}  // namespace mtlsd::tls
