#include "mtlsd/tls/server_context.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <ctime>
#include <fstream>
#include <iterator>

#include "mtlsd/fetch/http_client.hpp"
#include "mtlsd/identity/identity.hpp"
#include "mtlsd/tls/chain_policy.hpp"
#include "mtlsd/tls/handshake_verdict.hpp"
#include "mtlsd/log/logging.hpp"
#include "mtlsd/tls/truststore.hpp"
#include "mtlsd/tls/verified_chain_cache.hpp"
#include "tls/protocol_defaults.hpp"
#include "tls/private_file.hpp"
#include "tls/service_stores.hpp"
#include "tls/session_binding.hpp"
#include "tls/verify_callback.hpp"

namespace mtlsd::tls {
namespace {

struct builder {
  const service_config& service;
  config_errors& errors;
  std::vector<std::string>& warnings;
  bool ok = true;

  void fail(const std::string& key, std::string message) {
    errors.push_back({service.position_of(key), service.key_path_prefix + "." + key, std::move(message)});
    ok = false;
  }
  void warn(std::string message) { warnings.push_back("service " + service.name + ": " + std::move(message)); }
};

// Passphrase source for PEM_read_bio_PrivateKey. Records whether OpenSSL
// asked at all, which is how we know the key is encrypted.
struct passphrase_request {
  const secret_bytes* password = nullptr;  // null: none configured
  bool asked = false;
};

int passphrase_callback(char* buf, int size, int, void* userdata) {
  auto* request = static_cast<passphrase_request*>(userdata);
  request->asked = true;
  const secret_bytes* password = request->password;
  if (!password || password->empty() || static_cast<int>(password->size()) > size) return -1;
  std::memcpy(buf, password->data(), password->size());
  return static_cast<int>(password->size());
}

void load_key(builder& b, SSL_CTX* ctx) {
  const auto& service = b.service;
  secret_bytes password;
  if (!service.key_password_file.empty()) {
    std::string error;
    auto read = detail::read_password_file(service.key_password_file, error);
    if (!read) return b.fail("key_password_file", error);
    password = std::move(*read);
  }
  ERR_clear_error();
  passphrase_request request{service.key_password_file.empty() ? nullptr : &password};
  std::string error;
  const auto pem = detail::read_secret_file(service.key, error);
  if (!pem) return b.fail("key", error);
  ossl::bio_ptr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  ossl::pkey_ptr key;
  if (bio) key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_callback, &request));
  password.wipe();
  if (!key) {
    const std::string why = ossl::drain_errors("no private key found");
    if (request.asked && !request.password)
      return b.fail("key", "private key " + service.key.string() +
                               " is encrypted; set key_password_file to a file holding its passphrase");
    if (request.asked)
      return b.fail("key", "cannot decrypt private key " + service.key.string() +
                               " with the passphrase from key_password_file (" +
                               service.key_password_file.string() + "): " + why);
    return b.fail("key", "cannot load private key " + service.key.string() + ": " + why);
  }
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  if (leaf && X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return b.fail("key", "private key " + service.key.string() + " does not match the certificate in " +
                             service.cert.string());
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1)
    return b.fail("key", "cannot use private key " + service.key.string() + ": " + ossl::drain_errors());
}

certificate_summary summarize(X509* cert) {
  certificate_summary summary;
  summary.subject = distinguished_name(X509_get_subject_name(cert));
  summary.issuer = distinguished_name(X509_get_issuer_name(cert));
  summary.not_after = ossl::iso8601(X509_get0_notAfter(cert));
  summary.not_after_unix = ossl::unix_time(X509_get0_notAfter(cert));
  summary.expired = X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
  return summary;
}

void load_certificate(builder& b, SSL_CTX* ctx, certificate_summary& summary) {
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, b.service.cert.c_str()) != 1)
    return b.fail("cert", "cannot load certificate chain " + b.service.cert.string() + ": " + ossl::drain_errors());
  summary = summarize(SSL_CTX_get0_certificate(ctx));
  if (summary.expired) b.warn("server certificate \"" + summary.subject + "\" expired at " + summary.not_after);
}

// The server's own certificate must not be acceptable as a client identity:
// with one CA for both roles, any server of that CA could log in as a client.
void warn_if_server_cert_is_trusted_as_client(builder& b, SSL_CTX* ctx) {
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  if (!leaf) return;
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx, &chain);
  ossl::x509_store_ctx_ptr check(X509_STORE_CTX_new());
  if (!check || X509_STORE_CTX_init(check.get(), SSL_CTX_get_cert_store(ctx), leaf, chain) != 1) return;
  X509_STORE_CTX_set_purpose(check.get(), X509_PURPOSE_ANY);
  if (X509_verify_cert(check.get()) == 1)
    b.warn("the server certificate chains to the client truststore; issue server and client certificates from "
           "separate CAs so that one certificate can never serve as both identities");
  ERR_clear_error();
}

// The certificate chain and key of a keystore entry, in place of cert/key.
void load_keystore_into(builder& b, SSL_CTX* ctx, certificate_summary& summary, std::string& alias) {
  std::vector<detail::store_problem> problems;
  auto loaded = detail::load_keystore(b.service, problems);
  for (auto& p : problems) b.fail(p.key, std::move(p.message));
  if (!loaded) return;
  ERR_clear_error();
  X509* leaf = loaded->chain.front().get();
  if (X509_check_private_key(leaf, loaded->key.get()) != 1) {
    ERR_clear_error();
    return b.fail("keystore", "the private key of entry '" + loaded->alias + "' in " + b.service.keystore.string() +
                                  " does not match its certificate");
  }
  STACK_OF(X509)* chain = sk_X509_new_null();
  for (std::size_t i = 1; chain && i < loaded->chain.size(); ++i) sk_X509_push(chain, loaded->chain[i].get());
  const bool used = chain && SSL_CTX_use_cert_and_key(ctx, leaf, loaded->key.get(), chain, 1) == 1;
  sk_X509_free(chain);  // SSL_CTX_use_cert_and_key took its own references
  if (!used)
    return b.fail("keystore", "cannot use the certificate and key from " + b.service.keystore.string() + ": " +
                                  ossl::drain_errors());
  alias = loaded->alias;
  summary = summarize(leaf);
  if (summary.expired) b.warn("server certificate \"" + summary.subject + "\" expired at " + summary.not_after);
}

// A PKCS#12 or JKS truststore: its trusted-certificate entries, as if they
// had been read from a PEM bundle. False when it could not be used (reported).
bool load_store_truststore(builder& b, truststore_load& out) {
  std::vector<detail::store_problem> problems;
  std::vector<std::string> notes;
  auto loaded = detail::load_store_truststore(b.service, problems, notes);
  for (auto& n : notes) b.warn(std::move(n));
  for (auto& p : problems) b.fail(p.key, std::move(p.message));
  if (!loaded) return false;
  out.certificates = std::move(loaded->certificates);
  return true;
}

void load_truststore_into(builder& b, SSL_CTX* ctx, std::size_t& count, std::vector<certificate_summary>& cas) {
  truststore_load loaded;
  if (!detail::truststore_is_store(b.service)) {
    loaded = load_truststore(b.service.truststore);
  } else if (!load_store_truststore(b, loaded)) {
    return;
  }
  for (auto& e : loaded.errors) b.fail("truststore", e);
  if (!loaded.errors.empty()) return;
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const auto& cert : loaded.certificates) {
    if (X509_check_ca(cert.get()) == 0)
      b.warn("truststore entry \"" + distinguished_name(X509_get_subject_name(cert.get())) + "\" is not a CA certificate");
    // A warning, not an error: the truststore may be shared with other
    // software, and only clients whose chains end here are refused.
    if (const chain_check strength = check_key_strength(cert.get(), chain_role::anchor); !strength.passed)
      b.warn("truststore CA \"" + distinguished_name(X509_get_subject_name(cert.get())) + "\" has a weak key (" +
             strength.detail + "); clients whose chain ends at it are refused with weak_key");
    // Duplicates are harmless: OpenSSL reports them as errors we can ignore.
    X509_STORE_add_cert(store, cert.get());
    // The CertificateRequest lists these names so clients pick the right certificate.
    SSL_CTX_add_client_CA(ctx, cert.get());
    cas.push_back(summarize(cert.get()));
  }
  ERR_clear_error();
  count = loaded.certificates.size();
}

// Replaces OpenSSL's random per-context ticket keys, so that tickets this
// service issues resume on every instance that reads the same file. The keys
// are read here, when the context is built: a context built again (a restart,
// later a reload) picks up a rotated file.
void load_ticket_keys(builder& b, SSL_CTX* ctx, std::unique_ptr<const ticket_keyring>& out) {
  std::vector<std::string> problems;
  auto ring = ticket_keyring::load(b.service.session_ticket_key_file, problems);
  for (auto& p : problems) b.fail("session_ticket_key_file", std::move(p));
  if (!ring) return;
  ERR_clear_error();
  if (!ring->install(ctx))
    return b.fail("session_ticket_key_file", "cannot install session ticket keys: " + ossl::drain_errors());
  out = std::move(ring);
}

// Without shared ticket keys, a ticket can only ever come back to this
// process, so the session may as well stay here: the ticket is then just a
// reference to it (TLS 1.3 "stateful" tickets, TLS 1.2 session IDs). That
// spares the server encrypting the session, client certificate included,
// into every ticket and decoding it again on return — in OpenSSL 3.0 each
// decode re-parses the certificate, which was about half the cost of a
// resumed handshake. The cache is bounded (session_cache_size; each entry
// holds a parsed client certificate, a few KiB); the oldest go first.
void keep_sessions_in_memory(SSL_CTX* ctx, std::size_t sessions) {
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_sess_set_cache_size(ctx, static_cast<long>(sessions));
}

int verify_flags(verify_client_mode mode) {
  switch (mode) {
    case verify_client_mode::none: return SSL_VERIFY_NONE;
    case verify_client_mode::want: return SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
    case verify_client_mode::require:
      return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE;
  }
  return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
}

void apply_protocol_defaults(builder& b, SSL_CTX* ctx) {
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_ECDH_USE);
  if (!detail::apply_protocol_defaults(ctx, b.service.min_tls_version) ||
      SSL_CTX_set1_client_sigalgs_list(ctx, detail::signature_algorithms) != 1)
    b.fail("min_tls_version", "cannot set TLS parameters: " + ossl::drain_errors());
  // One TLS 1.3 ticket per full handshake instead of OpenSSL's two: every
  // stateless ticket costs the server a re-parse of the client certificate
  // (about a tenth of a full handshake here), and a client reconnecting gets
  // a fresh ticket with each resumption anyway.
  SSL_CTX_set_num_tickets(ctx, 1);
}

// CRLs go into the context's own store, where OpenSSL looks them up in
// every handshake. With CRL_CHECK_ALL every certificate of the chain is
// checked, not only the leaf: a revoked intermediate must refuse everything
// it issued, and a CA without a CRL leaves its certificates' status unknown
// (strict, as nginx's ssl_crl).
// The URLs fetched for this service: crl_url, then (crl_from_cdp) the http://
// distribution points of the truststore's certificates — which name the CRL
// of each certificate's issuer, so a CA's own CDP covers the CA above it.
std::vector<server_context::fetched_crl> fetched_crl_list(builder& b, X509_STORE* store) {
  std::vector<std::string> urls = b.service.crl_url;
  if (b.service.crl_from_cdp) {
    std::size_t found = 0;
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
      X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
      if (!cert) continue;
      for (auto& url : http_distribution_points(cert)) {
        ++found;
        std::string error;
        if (!fetch::parse_http_url(url, error)) {
          b.warn("distribution point " + url + " of \"" + distinguished_name(X509_get_subject_name(cert)) +
                 "\" is not fetched: " + error);
          continue;
        }
        if (std::find(urls.begin(), urls.end(), url) == urls.end()) urls.push_back(std::move(url));
      }
    }
    if (found == 0)
      b.warn("crl_from_cdp = true, but no truststore certificate has an http:// cRLDistributionPoint");
  }
  std::vector<server_context::fetched_crl> list;
  for (auto& url : urls) {
    auto file = crl_cache_file(b.service.crl_cache_dir, url);
    list.push_back({std::move(url), std::move(file)});
  }
  return list;
}

// A cached copy went through these checks before it was written; one that
// fails them now (the truststore changed, the file was edited) is skipped
// with a warning rather than failing the service: its CA's clients are then
// refused (revocation_unknown) until the next fetch, as with no copy at all.
void load_cached_crls(builder& b, X509_STORE* store, const std::vector<server_context::fetched_crl>& fetched,
                      std::int64_t now, crl_load& out) {
  for (const auto& f : fetched) {
    std::error_code ec;
    if (!std::filesystem::exists(f.cache_file, ec)) {
      b.warn("no cached CRL yet for " + f.url + " (" + f.cache_file.string() +
             "): clients of its issuer are refused (revocation_unknown) until the first fetch succeeds");
      continue;
    }
    auto cached = load_crls({f.cache_file}, store, b.service.crl_stale, now);
    for (auto& e : cached.errors) b.warn("cached CRL for " + f.url + " not used: " + e);
    for (auto& w : cached.warnings) b.warn(std::move(w));
    for (std::size_t i = 0; i < cached.crls.size(); ++i) {
      out.crls.push_back(std::move(cached.crls[i]));
      out.summaries.push_back(std::move(cached.summaries[i]));
    }
  }
}

crl_load install_crls(builder& b, SSL_CTX* ctx, const std::vector<server_context::fetched_crl>& fetched) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  const std::int64_t now = std::time(nullptr);
  auto loaded = load_crls(b.service.crl, store, b.service.crl_stale, now);
  for (auto& e : loaded.errors) b.fail("crl", std::move(e));
  for (auto& w : loaded.warnings) b.warn(std::move(w));
  load_cached_crls(b, store, fetched, now, loaded);
  for (const auto& crl : loaded.crls) X509_STORE_add_crl(store, crl.get());
  ERR_clear_error();  // a CRL listed twice is reported as a duplicate we can ignore
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  return loaded;
}

std::unique_ptr<const ocsp_staple> load_staple(builder& b, SSL_CTX* ctx) {
  const auto& file = b.service.ocsp_staple_file;
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  if (!leaf) return nullptr;
  // The response names the certificate by its issuer's name and key hash,
  // so the issuer must be at hand: the chain after the leaf in `cert`.
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx, &chain);
  X509* issuer = nullptr;
  for (int i = 0; chain && i < sk_X509_num(chain) && !issuer; ++i)
    if (X509_check_issued(sk_X509_value(chain, i), leaf) == X509_V_OK) issuer = sk_X509_value(chain, i);
  if (!issuer) {
    b.fail("ocsp_staple_file", "cannot check the OCSP response " + file.string() +
                                   ": the CA certificate that issued the server certificate is not in " +
                                   b.service.cert.string() + " (append it after the leaf)");
    return nullptr;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    b.fail("ocsp_staple_file", "cannot read " + file.string());
    return nullptr;
  }
  const std::string der((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string error;
  std::vector<std::string> notes;
  auto staple = parse_ocsp_staple(der, leaf, issuer, std::time(nullptr), error, notes);
  for (auto& n : notes) b.warn("OCSP response " + file.string() + ": " + n);
  if (!staple) {
    b.fail("ocsp_staple_file", "OCSP response " + file.string() + ": " + error);
    return nullptr;
  }
  auto owned = std::make_unique<const ocsp_staple>(std::move(*staple));
  install_ocsp_stapling(ctx, owned.get());
  return owned;
}

// For warnings about a state that holds for every handshake until fixed:
// true for one caller a minute, across all worker threads.
bool first_this_minute(std::atomic<std::int64_t>& last_logged) {
  const std::int64_t now = std::time(nullptr);
  std::int64_t last = last_logged.load(std::memory_order_relaxed);
  return now - last >= 60 && last_logged.compare_exchange_strong(last, now, std::memory_order_relaxed);
}

std::uint64_t next_context_id() {
  static std::atomic<std::uint64_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

}  // namespace

void server_context::note_ocsp_soft_fail(const std::string& subject, const std::string& why) const {
  if (!first_this_minute(*ocsp_soft_logged_)) return;
  log::warn(log::record("ocsp_soft_fail")
                .add("svc", service_name_)
                .add("subject", subject)
                .add("error", why)
                .add("message", "admitted without an OCSP answer (ocsp = soft); logged at most once a minute"));
}

int server_context::verify_chain(X509_STORE_CTX* store, void* self) {
  const auto* context = static_cast<const server_context*>(self);
  // A remembered chain would skip the verify callback, and with it the
  // OCSP question; answers have their own cache (ocsp_check.hpp).
  if (context->ocsp_ != ocsp_mode::off) return X509_verify_cert(store);
  return verify_chain_cached(store, context->chain_cache_scope_, context->sha256_.get(), std::time(nullptr));
}

bool server_context::take_over(SSL* ssl) const {
  SSL_CTX* ctx = ctx_.get();
  if (SSL_set_SSL_CTX(ssl, ctx) != ctx) return false;
  // SSL_set_SSL_CTX swaps the certificate, key and session ID context; what
  // SSL_new copied from the first context has to follow by hand.
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx));
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  const unsigned long inherit = X509_VERIFY_PARAM_get_inh_flags(param);
  X509_VERIFY_PARAM_set_inh_flags(param, X509_VP_FLAG_OVERWRITE | X509_VP_FLAG_RESET_FLAGS);
  const bool param_ok = X509_VERIFY_PARAM_inherit(param, SSL_CTX_get0_param(ctx)) == 1;
  X509_VERIFY_PARAM_set_inh_flags(param, inherit);
  SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(ctx));
  // Selected later than SSL_new, the async mode must follow too: the
  // certificate arrives in a later SSL_accept call, which then runs as a job.
  if (SSL_CTX_get_mode(ctx) & SSL_MODE_ASYNC) SSL_set_mode(ssl, SSL_MODE_ASYNC);
  STACK_OF(X509_NAME)* listed = SSL_CTX_get_client_CA_list(ctx);
  STACK_OF(X509_NAME)* names = listed ? SSL_dup_CA_list(listed) : sk_X509_NAME_new_null();
  if (!param_ok || !names) return false;
  SSL_set_client_CA_list(ssl, names);
  return true;
}

bool server_context::tolerate_stale_crl(const X509_CRL* crl, X509* cert) const {
  if (crl_stale_ != crl_stale_mode::warn) return false;
  for (std::size_t i = 0; i < crl_objects_.size(); ++i) {
    if (crl_objects_[i] != crl) continue;
    // Once a minute per CRL, not once per handshake: a busy service would
    // otherwise drown its log in one fact the metrics already show.
    if (!first_this_minute(stale_logged_[i])) break;
    const crl_summary& summary = crl_summaries_[i];
    log::warn(log::record("crl_stale")
                  .add("svc", service_name_)
                  .add("issuer", summary.issuer)
                  .add("next_update", summary.next_update)
                  .add("subject", cert ? distinguished_name(X509_get_subject_name(cert)) : std::string("-"))
                  .add("mode", "warn")
                  .add("message", "CRL past its nextUpdate; admitting without a current revocation check"));
    break;
  }
  return true;
}

// Our preference order wins (RFC 7301 leaves the choice to the server). No
// common protocol: the handshake goes on without ALPN rather than failing
// with no_application_protocol, as a plain TCP proxy would not care either.
int server_context::select_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                                const unsigned char* in, unsigned int inlen, void* self) {
  const auto* service = static_cast<const server_context*>(self);
  if (const handshake_verdict* verdict = verdict_of(ssl); verdict && verdict->context) service = verdict->context;
  const auto& ours = service->alpn_wire_;
  if (ours.empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, reinterpret_cast<const unsigned char*>(ours.data()),
                            static_cast<unsigned int>(ours.size()), in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

std::shared_ptr<const server_context> server_context::build(const service_config& service, config_errors& errors,
                                                            std::vector<std::string>& warnings,
                                                            const std::set<std::string>& known_bad) {
  builder b{service, errors, warnings};
  std::shared_ptr<server_context> result(new server_context());
  result->ctx_.reset(SSL_CTX_new(TLS_server_method()));
  if (!result->ctx_) {
    b.fail("cert", "cannot create a TLS context: " + ossl::drain_errors());
    return nullptr;
  }
  SSL_CTX* ctx = result->ctx_.get();
  result->service_name_ = service.name;
  result->verify_mode_ = service.verify_client;
  result->verify_depth_ = service.verify_depth;
  result->require_client_auth_eku_ = service.require_client_auth_eku;
  if (service.allow) result->policy_ = allow_policy(*service.allow);

  const auto usable = [&](const char* key) { return known_bad.count(key) == 0; };
  apply_protocol_defaults(b, ctx);
  const bool secrets_private = detail::check_private_files(
      service, detail::accept_side_secrets(service),
      [&](const std::string& key, std::string message) { b.fail(key, std::move(message)); },
      [&](std::string message) { b.warn(std::move(message)); });
  if (!secrets_private) {
    // Not read at all: the refusal above says why.
  } else if (!service.keystore.empty()) {
    if (usable("keystore") && usable("keystore_password_file") && usable("keystore_password_env") &&
        usable("keystore_alias"))
      load_keystore_into(b, ctx, result->server_cert_, result->keystore_alias_);
  } else if (usable("cert")) {
    load_certificate(b, ctx, result->server_cert_);
    if (b.ok && usable("key") && usable("key_password_file")) load_key(b, ctx);
  }
  if (service.verify_client != verify_client_mode::none && usable("truststore") && usable("verify_client") &&
      usable("truststore_password_file") && usable("truststore_password_env")) {
    load_truststore_into(b, ctx, result->truststore_size_, result->trusted_cas_);
    if (b.ok && usable("cert")) warn_if_server_cert_is_trusted_as_client(b, ctx);
  } else if (!service.truststore.empty()) {
    b.warn("truststore is not used with verify_client = none");
  }
  result->crl_stale_ = service.crl_stale;
  result->reevaluate_live_ = service.reevaluate_live;
  result->ocsp_ = service.verify_client == verify_client_mode::none ? ocsp_mode::off : service.ocsp;
  result->ocsp_url_ = service.ocsp_url;
  result->ocsp_timeout_ = std::chrono::duration_cast<std::chrono::milliseconds>(service.ocsp_timeout);
  // Handshakes run as async jobs only where a responder may be waited for
  // (ocsp_check.hpp); the job machinery costs a little on every call.
  if (result->ocsp_ != ocsp_mode::off) SSL_CTX_set_mode(ctx, SSL_MODE_ASYNC);
  const bool fetches_crls = !service.crl_url.empty() || service.crl_from_cdp;
  if (service.verify_client != verify_client_mode::none && (!service.crl.empty() || fetches_crls) &&
      usable("crl") && usable("verify_client")) {
    if (fetches_crls) result->fetched_crls_ = fetched_crl_list(b, SSL_CTX_get_cert_store(ctx));
    crl_load crls = install_crls(b, ctx, result->fetched_crls_);
    result->crl_summaries_ = std::move(crls.summaries);
    for (const auto& crl : crls.crls) result->crl_objects_.push_back(crl.get());
    result->stale_logged_ = std::make_unique<std::atomic<std::int64_t>[]>(result->crl_objects_.size());
    for (const auto& summary : result->crl_summaries_)
      if (summary.next_update_unix)
        result->crls_valid_until_ = std::min(result->crls_valid_until_, *summary.next_update_unix);
  }
  if (!service.ocsp_staple_file.empty() && usable("ocsp_staple_file") && usable("cert"))
    result->staple_ = load_staple(b, ctx);
  SSL_CTX_set_verify(ctx, verify_flags(service.verify_client), verify_callback);
  SSL_CTX_set_client_hello_cb(ctx, select_by_server_name, nullptr);
  SSL_CTX_set_verify_depth(ctx, service.verify_depth);
  SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
  if (!service.session_ticket_key_file.empty()) {
    if (usable("session_ticket_key_file") && secrets_private) load_ticket_keys(b, ctx, result->ticket_keys_);
  } else if (service.session_cache_size > 0) {
    keep_sessions_in_memory(ctx, service.session_cache_size);
  }
  bind_sessions_to_policy(ctx, service);
  result->sha256_.reset(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  result->chain_cache_scope_ = {next_context_id(), configuration_epoch(), result->crls_valid_until_};
  SSL_CTX_set_cert_verify_callback(ctx, &server_context::verify_chain, result.get());
  for (const auto& protocol : service.alpn) {
    result->alpn_wire_ += static_cast<char>(protocol.size());
    result->alpn_wire_ += protocol;
  }
  // Set even without a list: on an address shared by several services the
  // handshake keeps the first service's SSL_CTX, and the service SNI
  // selects may be one that has a list.
  SSL_CTX_set_alpn_select_cb(ctx, &server_context::select_alpn, result.get());

  if (!b.ok) return nullptr;
  return result;
}

std::shared_ptr<const server_context> server_context::build_verifier(const service_config& service,
                                                                     config_errors& errors,
                                                                     std::vector<std::string>& warnings) {
  // build() skips whatever a key named in known_bad points at; naming every
  // server-side key leaves exactly the client-verification half.
  static const std::set<std::string> server_side = {"cert", "key", "key_password_file", "keystore",
                                                    "ocsp_staple_file", "session_ticket_key_file"};
  return build(service, errors, warnings, server_side);
}

}  // namespace mtlsd::tls
