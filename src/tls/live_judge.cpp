#include "mtlsd/tls/live_judge.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "mtlsd/identity/identity.hpp"
#include "mtlsd/identity/policy.hpp"
#include "mtlsd/tls/openssl.hpp"
#include "tls/revocation_text.hpp"
#include "tls/verify_callback.hpp"

namespace mtlsd::tls {
namespace {

// What verification said first; the first refusal is the one the log names,
// as in a handshake.
struct judge_state {
  const server_context* context = nullptr;
  bool failed = false;
  int error = X509_V_OK;
  int depth = 0;
  std::string detail;
};

int state_index() {
  static const int index = X509_STORE_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int record_first_error(int ok, X509_STORE_CTX* store) {
  if (ok) return 1;
  auto* state = static_cast<judge_state*>(X509_STORE_CTX_get_ex_data(store, state_index()));
  if (!state) return 0;
  const int error = X509_STORE_CTX_get_error(store);
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (error == X509_V_ERR_CRL_HAS_EXPIRED &&
      state->context->tolerate_stale_crl(X509_STORE_CTX_get0_current_crl(store), cert))
    return 1;
  if (!state->failed) {
    state->failed = true;
    state->error = error;
    state->depth = X509_STORE_CTX_get_error_depth(store);
    state->detail = describe_verify_error(error, store, state->context);
  }
  return 0;
}

bool issuer_missing(int error) {
  return error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
         error == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

void add_digest(std::string& key, X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), md, &length) == 1) key.append(reinterpret_cast<const char*>(md), length);
}

// The newest CRL (by thisUpdate) in `store` issued under `issuer`, as
// OpenSSL itself would prefer among equally good ones.
X509_CRL* newest_crl_of(X509_STORE* store, const X509_NAME* issuer) {
  X509_CRL* best = nullptr;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509_CRL* crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objects, i));
    if (!crl || X509_NAME_cmp(X509_CRL_get_issuer(crl), issuer) != 0) continue;
    if (!best || ASN1_TIME_compare(X509_CRL_get0_lastUpdate(crl), X509_CRL_get0_lastUpdate(best)) > 0) best = crl;
  }
  return best;
}

}  // namespace

live_verdict live_judge::judge(SSL* ssl) {
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (!leaf || next_.verify_mode() == verify_client_mode::none) return {};
  STACK_OF(X509)* sent = SSL_get_peer_cert_chain(ssl);
  std::string key;
  add_digest(key, leaf);
  int others = 0;
  for (int i = 0; sent && i < sk_X509_num(sent); ++i) {
    X509* cert = sk_X509_value(sent, i);
    if (X509_cmp(cert, leaf) == 0) continue;
    add_digest(key, cert);
    ++others;
  }
  // OpenSSL keeps the client's intermediates in a session held in memory,
  // but does not put them into tickets: a session resumed from a ticket
  // (session_ticket_key_file) comes back with the leaf alone.
  const bool leaf_only_session = SSL_session_reused(ssl) == 1 && others == 0;
  key += leaf_only_session ? 'r' : 'f';
  if (auto it = seen_.find(key); it != seen_.end()) return it->second;
  live_verdict verdict = judge_chain(leaf, sent, leaf_only_session);
  seen_.emplace(std::move(key), verdict);
  return verdict;
}

live_verdict live_judge::judge_chain(X509* leaf, STACK_OF(X509)* sent, bool leaf_only_session) {
  ossl::x509_store_ctx_ptr store(X509_STORE_CTX_new());
  judge_state state;
  state.context = &next_;
  if (!store || X509_STORE_CTX_init(store.get(), SSL_CTX_get_cert_store(next_.native()), leaf, sent) != 1) {
    // Only memory can run out here. Closing a connection over our own
    // failure would be worse than judging it at the next reload.
    ERR_clear_error();
    return {};
  }
  // As the handshake verifies: client purpose, the service's depth and
  // security level (which sets the minimum key sizes).
  X509_STORE_CTX_set_purpose(store.get(), X509_PURPOSE_SSL_CLIENT);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(store.get());
  X509_VERIFY_PARAM_set_depth(param, next_.verify_depth());
  X509_VERIFY_PARAM_set_auth_level(param, SSL_CTX_get_security_level(next_.native()));
  X509_STORE_CTX_set_verify_cb(store.get(), record_first_error);
  X509_STORE_CTX_set_ex_data(store.get(), state_index(), &state);
  const int verified = X509_verify_cert(store.get());
  const int error = X509_STORE_CTX_get_error(store.get());
  ERR_clear_error();
  if (verified == 1) return judge_whitelist(leaf);
  // Without the intermediates no path can be built, which says nothing
  // about the client: judge what the leaf alone allows.
  if (leaf_only_session && state.depth == 0 && issuer_missing(state.failed ? state.error : error))
    return judge_leaf(leaf);
  if (!state.failed)
    return {false, classify_verify_error(error),
            describe_certificate(leaf, 0) + ": " + X509_verify_cert_error_string(error)};
  return {false, classify_verify_error(state.error), std::move(state.detail)};
}

live_verdict live_judge::judge_leaf(X509* leaf) {
  const auto refuse = [&](rejection_reason reason, const std::string& why) {
    return live_verdict{false, reason, describe_certificate(leaf, 0) + ": " + why};
  };
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0)
    return refuse(rejection_reason::expired, "certificate has expired");
  if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0)
    return refuse(rejection_reason::not_yet_valid, "certificate is not valid yet");
  if (!next_.crls().empty()) {
    X509_CRL* crl = newest_crl_of(SSL_CTX_get_cert_store(next_.native()), X509_get_issuer_name(leaf));
    if (!crl)
      return refuse(rejection_reason::revocation_unknown,
                    explain_crl_error(X509_V_ERR_UNABLE_TO_GET_CRL, nullptr, leaf).value_or(""));
    const ASN1_TIME* next_update = X509_CRL_get0_nextUpdate(crl);
    if (next_update && X509_cmp_current_time(next_update) < 0 && !next_.tolerate_stale_crl(crl, leaf))
      return refuse(rejection_reason::crl_stale, explain_crl_error(X509_V_ERR_CRL_HAS_EXPIRED, crl, leaf).value_or(""));
    X509_REVOKED* entry = nullptr;
    if (X509_CRL_get0_by_cert(crl, &entry, leaf) == 1)
      return refuse(rejection_reason::revoked, revoked_text(crl, leaf));
  }
  return judge_whitelist(leaf);
}

live_verdict live_judge::judge_whitelist(X509* leaf) {
  const admission decision = admit(extract_identity(leaf), next_.policy());
  if (decision.allowed) return {};
  return {false, rejection_reason::not_whitelisted,
          describe_certificate(leaf, 0) + ": no allow rule matched " + decision.detail};
}

}  // namespace mtlsd::tls
