#include "mtlsd/tls/offline_verify.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <map>

#include "mtlsd/identity/identity.hpp"
#include "mtlsd/identity/policy.hpp"
#include "mtlsd/tls/chain_policy.hpp"
#include "mtlsd/tls/crl.hpp"
#include "mtlsd/tls/handshake_verdict.hpp"
#include "mtlsd/tls/openssl.hpp"
#include "tls/revocation_text.hpp"
#include "tls/verify_callback.hpp"

namespace mtlsd::tls {
namespace {

// sk_X509_free is a macro-made inline; wrap it for the deleter.
void free_stack(STACK_OF(X509) * stack) { sk_X509_free(stack); }
using x509_stack_ptr = std::unique_ptr<STACK_OF(X509), ossl::deleter<STACK_OF(X509), free_stack>>;

// Sets up `store` as libssl's ssl_verify_cert_chain() does for a server
// verifying its client (OpenSSL 3.0): security level as auth level, the SSL
// as ex_data, the "ssl_client" purpose defaults, then the SSL's own params.
bool prepare(X509_STORE_CTX* store, SSL* ssl, X509* leaf, STACK_OF(X509)* untrusted, std::int64_t at) {
  if (X509_STORE_CTX_init(store, SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)), leaf, untrusted) != 1) return false;
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(store);
  X509_VERIFY_PARAM_set_auth_level(param, SSL_get_security_level(ssl));
  X509_STORE_CTX_set_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx(), ssl);
  X509_STORE_CTX_set_default(store, "ssl_client");
  X509_VERIFY_PARAM_set1(param, SSL_get0_param(ssl));
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at));
  return true;
}

// The explanation pass: every error OpenSSL meets, by chain depth, with the
// CRL it was looking at; verification goes on past each one so that every
// certificate gets looked at.
struct recorded_error {
  int code = 0;
  X509_CRL* crl = nullptr;
};
struct error_log {
  std::multimap<int, recorded_error> by_depth;
};

int error_log_index() {
  static const int index = X509_STORE_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int record_everything(int ok, X509_STORE_CTX* store) {
  if (!ok) {
    auto* log = static_cast<error_log*>(X509_STORE_CTX_get_ex_data(store, error_log_index()));
    if (log)
      log->by_depth.emplace(X509_STORE_CTX_get_error_depth(store),
                            recorded_error{X509_STORE_CTX_get_error(store), X509_STORE_CTX_get0_current_crl(store)});
  }
  return 1;
}

std::string name_of(X509* cert) { return distinguished_name(X509_get_subject_name(cert)); }

std::string time_text(std::int64_t t) {
  char buf[32];
  std::tm tm{};
  const time_t tt = static_cast<time_t>(t);
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool is_path_error(int code) {
  switch (code) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
      return true;
    default:
      return false;
  }
}

// Those explain_crl_error() has words for; the revocation lines show them.
bool is_crl_error(int code) {
  switch (code) {
    case X509_V_ERR_CERT_REVOKED:
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
    case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
      return true;
    default:
      return false;
  }
}

// Errors the per-certificate lines below already explain in their own words.
bool explained_elsewhere(int code) {
  switch (code) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL:
    case X509_V_ERR_PERMITTED_VIOLATION:
    case X509_V_ERR_EXCLUDED_VIOLATION:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
    case X509_V_ERR_INVALID_PURPOSE:
      return true;
    default:
      return is_path_error(code) || is_crl_error(code);
  }
}

// The CRL in the context's store issued by `cert`'s issuer, if any.
X509_CRL* crl_for(X509_STORE* store, X509* cert) {
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; objects && i < sk_X509_OBJECT_num(objects); ++i) {
    X509_CRL* crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objects, i));
    if (crl && X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) == 0) return crl;
  }
  return nullptr;
}

std::string quoted_list(const std::vector<std::string>& values) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i) text += (i ? ", \"" : "\"") + values[i] + "\"";
  return text + "]";
}

class explainer {
 public:
  explainer(const server_context& context, std::int64_t at, offline_verdict& out)
      : context_(context), at_(at), out_(out) {}

  void run(STACK_OF(X509)* chain, const error_log& errors, X509* leaf) {
    const int length = chain ? sk_X509_num(chain) : 0;
    path(chain, errors, length);
    depth(errors, length);
    for (int i = 0; i < length; ++i) certificate(chain, i, length, errors);
    if (length == 0) certificate_alone(leaf);
    eku(leaf);
    for (int i = 0; i < length; ++i) revocation(sk_X509_value(chain, i), i, errors);
    other_errors(chain, errors);
    whitelist(leaf);
  }

 private:
  void add(check_status status, std::string name, std::string text) {
    out_.checks.push_back({status, std::move(name), std::move(text)});
  }

  void path(STACK_OF(X509)* chain, const error_log& errors, int length) {
    std::string names;
    for (int i = 0; i < length; ++i) names += (i ? " -> " : "") + name_of(sk_X509_value(chain, i));
    for (const auto& [depth, e] : errors.by_depth) {
      if (!is_path_error(e.code)) continue;
      add(check_status::fail, "path", names + ": " + X509_verify_cert_error_string(e.code));
      return;
    }
    add(check_status::ok, "path", names + " (trust anchor, in truststore)");
  }

  void depth(const error_log& errors, int length) {
    const int intermediates = length > 2 ? length - 2 : 0;
    const std::string text = std::to_string(intermediates) + " intermediate CA(s); verify_depth = " +
                             std::to_string(context_.verify_depth());
    for (const auto& [d, e] : errors.by_depth)
      if (e.code == X509_V_ERR_CERT_CHAIN_TOO_LONG) return add(check_status::fail, "depth", text + " allows fewer");
    add(check_status::ok, "depth", text);
  }

  void validity(X509* cert) {
    const std::string name = name_of(cert);
    const std::string nb = ossl::iso8601(X509_get0_notBefore(cert));
    const std::string na = ossl::iso8601(X509_get0_notAfter(cert));
    time_t at = static_cast<time_t>(at_);
    const std::string when = time_text(at_);
    if (X509_cmp_time(X509_get0_notBefore(cert), &at) > 0)
      return add(check_status::fail, "validity", name + " not_before=" + nb + " is after " + when);
    if (X509_cmp_time(X509_get0_notAfter(cert), &at) < 0)
      return add(check_status::fail, "validity", name + " not_after=" + na + " is before " + when);
    add(check_status::ok, "validity", name + " " + nb + " .. " + na + " covers " + when);
  }

  void certificate_alone(X509* leaf) {
    validity(leaf);
    const chain_check key = check_key_strength(leaf, chain_role::leaf);
    add(key.passed ? check_status::ok : check_status::fail, "key", name_of(leaf) + ": " + key.detail);
  }

  void certificate(STACK_OF(X509)* chain, int i, int length, const error_log& errors) {
    X509* cert = sk_X509_value(chain, i);
    validity(cert);
    const auto [first, last] = errors.by_depth.equal_range(i);
    bool bad_signature = false;
    for (auto it = first; it != last; ++it)
      bad_signature = bad_signature || it->second.code == X509_V_ERR_CERT_SIGNATURE_FAILURE;
    if (bad_signature)
      add(check_status::fail, "signature", name_of(cert) + ": does not verify with the issuer's key");
    else if (i + 1 < length || X509_check_issued(cert, cert) == X509_V_OK)
      add(check_status::ok, "signature",
          name_of(cert) + (i + 1 < length ? ": verifies with the key of " + name_of(sk_X509_value(chain, i + 1))
                                          : ": trust anchor (self-signed, not checked)"));
    const chain_check key = check_key_strength(cert, role_at(i, length));
    add(key.passed ? check_status::ok : check_status::fail, "key", name_of(cert) + ": " + key.detail);
    const chain_check nc = check_name_constraints(chain, i);
    if (!nc.passed) add(check_status::fail, "name_constraints", name_of(cert) + ": " + nc.detail);
    else if (!nc.detail.empty()) add(check_status::ok, "name_constraints", name_of(cert) + ": " + nc.detail);
  }

  void eku(X509* leaf) {
    const chain_check check = check_client_auth_eku(leaf, context_.require_client_auth_eku());
    add(check.passed ? check_status::ok : check_status::fail, "eku", name_of(leaf) + ": " + check.detail);
  }

  void revocation(X509* cert, int depth, const error_log& errors) {
    if (context_.crls().empty()) {
      if (depth == 0) add(check_status::info, "revocation", "no crl configured: not checked");
      return;
    }
    const auto [first, last] = errors.by_depth.equal_range(depth);
    for (auto it = first; it != last; ++it) {
      auto text = explain_crl_error(it->second.code, it->second.crl, cert);
      if (!text) continue;
      const bool tolerated = it->second.code == X509_V_ERR_CRL_HAS_EXPIRED &&
                             context_.crl_stale() == crl_stale_mode::warn;
      add(tolerated ? check_status::warn : check_status::fail, "revocation",
          name_of(cert) + ": " + *text + (tolerated ? " (crl_stale = \"warn\": admitted)" : ""));
      return;
    }
    X509_CRL* crl = crl_for(SSL_CTX_get_cert_store(context_.native()), cert);
    if (!crl) {
      add(check_status::ok, "revocation", name_of(cert) + ": not checked (trust anchor)");
      return;
    }
    add(check_status::ok, "revocation",
        name_of(cert) + ": serial " + serial_hex(X509_get0_serialNumber(cert)) + " not listed in the CRL of \"" +
            distinguished_name(X509_CRL_get_issuer(crl)) + "\" (thisUpdate " +
            ossl::iso8601(X509_CRL_get0_lastUpdate(crl)) +
            (X509_CRL_get0_nextUpdate(crl) ? ", nextUpdate " + ossl::iso8601(X509_CRL_get0_nextUpdate(crl)) : "") +
            ")");
  }

  void other_errors(STACK_OF(X509)* chain, const error_log& errors) {
    for (const auto& [depth, e] : errors.by_depth) {
      if (explained_elsewhere(e.code)) continue;
      X509* cert = chain && depth < sk_X509_num(chain) ? sk_X509_value(chain, depth) : nullptr;
      add(check_status::fail, "chain",
          (cert ? name_of(cert) + ": " : std::string()) + X509_verify_cert_error_string(e.code));
    }
  }

  void whitelist(X509* leaf) {
    const client_identity identity = extract_identity(leaf);
    const allow_policy& policy = context_.policy();
    if (!policy.restricts()) return add(check_status::ok, "whitelist", "no whitelist: any certificate that chains");
    const allow_rules& rules = policy.rules();
    const std::pair<const char*, const std::vector<std::string>*> fields[] = {
        {"cn", &rules.cn},   {"ou", &rules.ou},     {"o", &rules.o},           {"dns", &rules.dns},
        {"uri", &rules.uri}, {"ip", &rules.ip},     {"email", &rules.email},   {"sha256", &rules.sha256},
        {"spiffe_trust_domain", &rules.spiffe_trust_domain}, {"spiffe_id", &rules.spiffe_id}};
    std::string listed;
    for (const auto& [field, values] : fields)
      if (!values->empty()) listed += (listed.empty() ? "" : " ") + std::string(field) + "=" + quoted_list(*values);
    add(check_status::info, "whitelist", "rules: " + listed);
    if (!rules.spiffe_trust_domain.empty() || !rules.spiffe_id.empty()) {
      const std::string broken = svid_violation(identity);
      add(broken.empty() ? check_status::ok : check_status::fail, "svid",
          broken.empty() ? "leaf is a valid X.509-SVID" : broken);
    }
    const admission decision = admit(identity, policy);
    add(decision.allowed ? check_status::ok : check_status::fail, "whitelist",
        decision.allowed ? "matched " + decision.detail : "no rule matched " + decision.detail);
  }

  const server_context& context_;
  std::int64_t at_;
  offline_verdict& out_;
};

}  // namespace

std::string_view to_string(check_status status) {
  switch (status) {
    case check_status::ok: return "ok";
    case check_status::fail: return "FAIL";
    case check_status::warn: return "warn";
    case check_status::info: return "info";
  }
  return "info";
}

offline_verdict verify_offline(const server_context& context, const std::vector<X509*>& chain,
                               std::optional<std::int64_t> at) {
  offline_verdict result;
  const std::int64_t when = at ? *at : static_cast<std::int64_t>(std::time(nullptr));
  ossl::ssl_ptr ssl(SSL_new(context.native()));
  x509_stack_ptr untrusted(sk_X509_new_null());
  if (chain.empty() || !ssl || !untrusted) {
    result.detail = chain.empty() ? "no certificate given" : ossl::drain_errors("out of memory");
    return result;
  }
  SSL_set_accept_state(ssl.get());
  // The daemon hands OpenSSL the whole chain the client sent, leaf included.
  for (X509* cert : chain) sk_X509_push(untrusted.get(), cert);

  // The verdict: the daemon's path, callback and verdict object; only the
  // verified-chain cache in front of X509_verify_cert is left out.
  handshake_verdict verdict;
  verdict.context = &context;
  attach(ssl.get(), &verdict);
  ossl::x509_store_ctx_ptr store(X509_STORE_CTX_new());
  int verified = 0;
  if (store && prepare(store.get(), ssl.get(), chain.front(), untrusted.get(), when)) {
    X509_STORE_CTX_set_verify_cb(store.get(), SSL_get_verify_callback(ssl.get()));
    verified = X509_verify_cert(store.get());
    if (verified != 1 && !verdict.refused) {
      const int error = X509_STORE_CTX_get_error(store.get());
      verdict.refuse(classify_verify_error(error), describe_verify_error(error, store.get(), &context));
    }
  } else {
    verdict.refuse(rejection_reason::other, ossl::drain_errors("cannot set up verification"));
  }
  attach(ssl.get(), nullptr);
  ERR_clear_error();
  result.accepted = verified == 1 && !verdict.refused;
  result.reason = verdict.reason;
  result.detail = verdict.detail;
  if (result.accepted) result.detail = admit(*verdict.identity, context.policy()).detail;

  // The explanation: a second run that records every error instead of
  // stopping at the first, over the same store and parameters.
  error_log errors;
  ossl::x509_store_ctx_ptr probe(X509_STORE_CTX_new());
  if (probe && prepare(probe.get(), ssl.get(), chain.front(), untrusted.get(), when)) {
    X509_STORE_CTX_set_ex_data(probe.get(), error_log_index(), &errors);
    X509_STORE_CTX_set_verify_cb(probe.get(), record_everything);
    X509_verify_cert(probe.get());
    explainer(context, when, result).run(X509_STORE_CTX_get0_chain(probe.get()), errors, chain.front());
  }
  ERR_clear_error();
  return result;
}

}  // namespace mtlsd::tls
