// Owner: tls module. The client side towards tls:// backends (client_context.hpp).
#include "mtlsd/tls/client_context.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstring>

#include "mtlsd/identity/identity.hpp"
#include "mtlsd/tls/truststore.hpp"
#include "tls/protocol_defaults.hpp"
#include "tls/private_file.hpp"
#include "tls/service_stores.hpp"

namespace mtlsd::tls {
namespace {

// ex_data on each SSL: the context (for the new-session callback, which
// has no user pointer of its own) and the cache key.
struct connection_note {
  const client_context* context = nullptr;
  std::string cache_key;
  int alert_received = 0;  // the last fatal alert from the backend, +1 (0: none)
  // The first verification error and the certificates it concerns: OpenSSL
  // keeps no peer certificate after a failed verification.
  int verify_error = X509_V_OK;
  std::string failed_cert;  // subject/issuer/not_after of the certificate that failed
  std::string leaf_cert;    // the backend's own certificate, when another one failed
  std::string leaf_sans;
};

void free_note(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<connection_note*>(ptr); }

int note_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_note);
  return index;
}

connection_note* note_of(const SSL* ssl) { return static_cast<connection_note*>(SSL_get_ex_data(ssl, note_index())); }

// A TLS 1.3 backend judges our certificate after our handshake has ended,
// so its refusal only shows up as an alert on the first read; the info
// callback keeps it for whoever explains the failure.
void on_info(const SSL* ssl, int where, int value) {
  // SSL_CB_READ_ALERT shares its SSL_CB_ALERT bit with SSL_CB_WRITE_ALERT:
  // compare both bits, or our own alerts would count as the backend's.
  if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT || (value >> 8) != SSL3_AL_FATAL) return;
  if (auto* note = note_of(ssl)) note->alert_received = (value & 0xff) + 1;
}

std::string certificate_names(X509* cert);
std::string san_names(X509* cert);

int on_verify(int ok, X509_STORE_CTX* store) {
  if (ok == 1) return ok;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* note = ssl ? note_of(ssl) : nullptr;
  if (!note || note->verify_error != X509_V_OK) return ok;
  note->verify_error = X509_STORE_CTX_get_error(store);
  if (X509* failed = X509_STORE_CTX_get_current_cert(store)) note->failed_cert = certificate_names(failed);
  if (X509* leaf = X509_STORE_CTX_get0_cert(store)) {
    note->leaf_sans = san_names(leaf);
    if (X509_STORE_CTX_get_error_depth(store) > 0) note->leaf_cert = certificate_names(leaf);
  }
  return ok;
}

struct build_state {
  const service_config& service;
  config_errors& errors;
  bool ok = true;
  void fail(const std::string& key, std::string message) {
    errors.push_back({service.position_of("upstream." + key), service.key_path_prefix + ".upstream." + key,
                      std::move(message)});
    ok = false;
  }
};

// The store loaders read the accept side's field names; hand them a copy
// carrying the upstream values under those names.
service_config as_store_settings(const service_config& service) {
  service_config copy;
  copy.name = service.name;
  copy.key_path_prefix = service.key_path_prefix + ".upstream";
  const auto& up = service.upstream;
  copy.keystore = up.keystore;
  copy.keystore_password_file = up.keystore_password_file;
  copy.keystore_password_env = up.keystore_password_env;
  copy.keystore_alias = up.keystore_alias;
  copy.truststore = up.truststore;
  copy.truststore_password_file = up.truststore_password_file;
  copy.truststore_password_env = up.truststore_password_env;
  return copy;
}

int passphrase(char* buf, int size, int, void* userdata) {
  const auto* password = static_cast<const secret_bytes*>(userdata);
  if (!password || password->empty() || static_cast<int>(password->size()) > size) return -1;
  std::memcpy(buf, password->data(), password->size());
  return static_cast<int>(password->size());
}

void load_pem_identity(build_state& b, SSL_CTX* ctx) {
  const auto& up = b.service.upstream;
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, up.cert.c_str()) != 1)
    return b.fail("cert", "cannot load certificate chain " + up.cert.string() + ": " + ossl::drain_errors());
  secret_bytes password;
  if (!up.key_password_file.empty()) {
    std::string error;
    auto read = detail::read_password_file(up.key_password_file, error);
    if (!read) return b.fail("key_password_file", error);
    password = std::move(*read);
  }
  std::string error;
  const auto pem = detail::read_secret_file(up.key, error);
  if (!pem) return b.fail("key", error);
  ossl::bio_ptr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  ossl::pkey_ptr key;
  if (bio)
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase,
                                      up.key_password_file.empty() ? nullptr : &password));
  password.wipe();
  if (!key) return b.fail("key", "cannot load private key " + up.key.string() + ": " + ossl::drain_errors());
  if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key.get()) != 1) {
    ERR_clear_error();
    return b.fail("key", "private key " + up.key.string() + " does not match the certificate in " + up.cert.string());
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1)
    return b.fail("key", "cannot use private key " + up.key.string() + ": " + ossl::drain_errors());
}

void load_keystore_identity(build_state& b, SSL_CTX* ctx) {
  std::vector<detail::store_problem> problems;
  auto loaded = detail::load_keystore(as_store_settings(b.service), problems);
  for (auto& p : problems) b.fail(p.key, std::move(p.message));
  if (!loaded) return;
  X509* leaf = loaded->chain.front().get();
  if (X509_check_private_key(leaf, loaded->key.get()) != 1) {
    ERR_clear_error();
    return b.fail("keystore", "the private key of entry '" + loaded->alias + "' does not match its certificate");
  }
  STACK_OF(X509)* chain = sk_X509_new_null();
  for (std::size_t i = 1; chain && i < loaded->chain.size(); ++i) sk_X509_push(chain, loaded->chain[i].get());
  const bool used = chain && SSL_CTX_use_cert_and_key(ctx, leaf, loaded->key.get(), chain, 1) == 1;
  sk_X509_free(chain);
  if (!used) b.fail("keystore", "cannot use the certificate and key: " + ossl::drain_errors());
}

std::size_t load_trust(build_state& b, SSL_CTX* ctx, std::vector<std::string>& warnings) {
  const auto& up = b.service.upstream;
  if (up.truststore.empty()) {
    // No truststore: the backend is checked like a public web server, against
    // the system's CA bundle (OpenSSL's default paths, SSL_CERT_FILE/SSL_CERT_DIR).
    if (SSL_CTX_set_default_verify_paths(ctx) != 1)
      b.fail("truststore", "cannot load the system CAs: " + ossl::drain_errors());
    return 0;
  }
  const service_config settings = as_store_settings(b.service);
  truststore_load loaded;
  if (detail::truststore_is_store(settings)) {
    std::vector<detail::store_problem> problems;
    auto store = detail::load_store_truststore(settings, problems, warnings);
    for (auto& p : problems) b.fail(p.key, std::move(p.message));
    if (!store) return 0;
    loaded.certificates = std::move(store->certificates);
  } else {
    loaded = load_truststore(up.truststore);
  }
  for (auto& e : loaded.errors) b.fail("truststore", e);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const auto& cert : loaded.certificates) X509_STORE_add_cert(store, cert.get());
  ERR_clear_error();
  return loaded.certificates.size();
}

bool is_ip_literal(const std::string& host) {
  unsigned char raw[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), raw) == 1 || inet_pton(AF_INET6, host.c_str(), raw) == 1;
}

std::string alpn_wire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& p : protocols) {
    wire += static_cast<char>(p.size());
    wire += p;
  }
  return wire;
}

std::string alert_text(int alert) {
  // OpenSSL 3.0 names only the alerts TLS 1.2 had; the TLS 1.3 ones read "unknown".
  if (alert == SSL_AD_CERTIFICATE_REQUIRED) return "certificate required";
  if (alert == SSL_AD_NO_APPLICATION_PROTOCOL) return "no application protocol";
  const char* text = SSL_alert_desc_string_long(alert);
  std::string out = text ? text : "alert " + std::to_string(alert);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The alert a backend sends when it refuses us, in our vocabulary.
rejection_reason reason_of_alert(int alert) {
  switch (alert) {
    case SSL_AD_UNKNOWN_CA: return rejection_reason::unknown_ca;
    case SSL_AD_CERTIFICATE_EXPIRED: return rejection_reason::expired;
    case SSL_AD_CERTIFICATE_REQUIRED: return rejection_reason::no_certificate;
    case SSL_AD_CERTIFICATE_REVOKED: return rejection_reason::revoked;
    case SSL_AD_UNSUPPORTED_CERTIFICATE: return rejection_reason::bad_eku;
    case SSL_AD_PROTOCOL_VERSION: return rejection_reason::protocol_version;
    case SSL_AD_UNRECOGNIZED_NAME: return rejection_reason::unrecognized_name;
    default: return rejection_reason::other;
  }
}

std::string certificate_names(X509* cert) {
  return "subject=\"" + distinguished_name(X509_get_subject_name(cert)) + "\" issuer=\"" +
         distinguished_name(X509_get_issuer_name(cert)) + "\" not_after=" + ossl::iso8601(X509_get0_notAfter(cert));
}

std::string san_names(X509* cert) {
  const client_identity id = extract_identity(cert);
  std::string names;
  for (const auto& v : id.dns) names += (names.empty() ? "" : ",") + ("dns:" + v);
  for (const auto& v : id.ip) names += (names.empty() ? "" : ",") + ("ip:" + v);
  return names.empty() ? "none" : names;
}

}  // namespace

client_context::~client_context() = default;

std::shared_ptr<const client_context> client_context::build(const service_config& service, config_errors& errors,
                                                           std::vector<std::string>& warnings,
                                                           const X509* listener_cert) {
  std::shared_ptr<client_context> result(new client_context());
  result->settings_ = service.upstream;
  build_state b{service, errors};
  result->ctx_.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* ctx = result->ctx_.get();
  if (!ctx) {
    b.fail("truststore", "cannot create a TLS context: " + ossl::drain_errors());
    return nullptr;
  }
  const auto& up = service.upstream;
  // The accept side's policy (protocol_defaults.hpp), so both legs agree.
  if (!detail::apply_protocol_defaults(ctx, up.min_tls_version))
    b.fail("min_tls_version", "cannot set TLS parameters: " + ossl::drain_errors());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, on_verify);
  SSL_CTX_set_info_callback(ctx, on_info);
  // Sessions are kept by us, one per backend, not in OpenSSL's internal
  // client cache (which it never looks up on its own anyway).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &client_context::on_new_session);

  const bool secrets_private = detail::check_private_files(
      service, detail::upstream_secrets(service), [&](const std::string& key, std::string m) { b.fail(key, m); },
      [&](const std::string& m) { warnings.push_back("service " + service.name + ": upstream." + m); });
  if (!secrets_private) {
    // Not read at all: the refusal above says why.
  } else if (!up.keystore.empty()) {
    load_keystore_identity(b, ctx);
  } else if (!up.cert.empty()) {
    load_pem_identity(b, ctx);
  }
  if (X509* leaf = SSL_CTX_get0_certificate(ctx)) {
    result->client_subject_ = distinguished_name(X509_get_subject_name(leaf));
    result->client_not_after_ = ossl::iso8601(X509_get0_notAfter(leaf));
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0)
      warnings.push_back("service " + service.name + ": upstream client certificate \"" + result->client_subject_ +
                         "\" expired at " + result->client_not_after_);
    const std::string identity_key = up.keystore.empty() ? "cert" : "keystore";
    // One certificate serving as both the server and the client identity
    // lets whoever holds its key impersonate either side.
    if (listener_cert && X509_cmp(leaf, listener_cert) == 0)
      b.fail(identity_key, "\"" + result->client_subject_ +
                               "\" is also this service's server certificate; give [service.upstream] a client "
                               "certificate of its own");
    if ((X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) != 0 &&
        (X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT) == 0)
      b.fail(identity_key, "\"" + result->client_subject_ +
                               "\" has an extendedKeyUsage without clientAuth; backends checking it will refuse it");
  }
  result->truststore_size_ = load_trust(b, ctx, warnings);
  if (!b.ok) return nullptr;
  return result;
}

ossl::ssl_ptr client_context::new_ssl(const std::string& host, const std::string& backend,
                                      const std::string& client_alpn) const {
  ossl::ssl_ptr ssl(SSL_new(ctx_.get()));
  if (!ssl) return nullptr;
  const std::string name = server_name_for(host);
  const bool ip = is_ip_literal(name);
  // RFC 6066 §3: SNI carries host names only, never an IP literal.
  if (!ip && SSL_set_tlsext_host_name(ssl.get(), name.c_str()) != 1) return nullptr;
  if (settings_.verify_hostname) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    if (set != 1) return nullptr;
  }
  const std::string wire = alpn_wire(settings_.alpn.empty() && !client_alpn.empty()
                                         ? std::vector<std::string>{client_alpn}
                                         : settings_.alpn);
  // SSL_set_alpn_protos returns 0 on success, unlike nearly everything else.
  if (!wire.empty() &&
      SSL_set_alpn_protos(ssl.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned>(wire.size())) != 0)
    return nullptr;
  auto* note = new connection_note;
  note->context = this;
  note->cache_key = name + "|" + backend;
  SSL_set_ex_data(ssl.get(), note_index(), note);
  if (auto session = recall(note->cache_key)) SSL_set_session(ssl.get(), session.get());
  return ssl;
}

int client_context::on_new_session(SSL* ssl, SSL_SESSION* session) {
  // TLS 1.3 tickets arrive after the handshake, during a read; TLS 1.2
  // sessions at its end. Either way the newest replaces the last one kept.
  const auto* note = note_of(ssl);
  if (!note || !note->context || SSL_SESSION_is_resumable(session) != 1) return 0;
  note->context->remember(note->cache_key, session);
  return 1;  // the reference is ours now
}

void client_context::remember(const std::string& key, SSL_SESSION* session) const {
  const std::lock_guard lock(cache_mutex_);
  // Bounded by the number of backends the config names (one entry each).
  sessions_[key].reset(session);
}

ssl_session_ptr client_context::recall(const std::string& key) const {
  const std::lock_guard lock(cache_mutex_);
  const auto it = sessions_.find(key);
  if (it == sessions_.end() || !it->second) return nullptr;
  SSL_SESSION_up_ref(it->second.get());
  return ssl_session_ptr(it->second.get());
}

int received_alert(SSL* ssl, bool read_pending) {
  const auto* note = note_of(ssl);
  if (note && note->alert_received == 0 && read_pending) {
    char discard[512];
    std::size_t n = 0;
    SSL_read_ex(ssl, discard, sizeof discard, &n);
    ERR_clear_error();
  }
  return note && note->alert_received > 0 ? note->alert_received - 1 : -1;
}

upstream_failure explain_upstream_failure(SSL* ssl, const std::string& server_name) {
  upstream_failure out;
  X509* peer = SSL_get0_peer_certificate(ssl);
  const connection_note* note = note_of(ssl);
  const int alert = received_alert(ssl);
  if (note && note->verify_error != X509_V_OK) {
    const int code = note->verify_error;
    out.reason = classify_verify_error(code);
    if (code == X509_V_ERR_HOSTNAME_MISMATCH || code == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      out.detail = "backend certificate " + note->failed_cert + ": " +
                   (code == X509_V_ERR_IP_ADDRESS_MISMATCH ? "IP address " : "name ") + "\"" + server_name +
                   "\" (server_name) does not match its subjectAltNames " + note->leaf_sans;
    } else {
      out.detail = "backend certificate " + note->failed_cert + ": " + X509_verify_cert_error_string(code);
      if (!note->leaf_cert.empty()) out.detail += " (in the chain of " + note->leaf_cert + ")";
    }
    ERR_clear_error();
    return out;
  }
  if (alert >= 0) {
    out.reason = reason_of_alert(alert);
    out.detail = "backend sent alert: " + alert_text(alert);
    if (alert == SSL_AD_UNKNOWN_CA || alert == SSL_AD_CERTIFICATE_REQUIRED || alert == SSL_AD_BAD_CERTIFICATE ||
        alert == SSL_AD_CERTIFICATE_EXPIRED || alert == SSL_AD_UNSUPPORTED_CERTIFICATE)
      out.detail += SSL_CTX_get0_certificate(SSL_get_SSL_CTX(ssl)) != nullptr
                        ? " (it refused our client certificate)"
                        : " (no client certificate configured in [service.upstream])";
    if (peer) out.detail += "; backend certificate " + certificate_names(peer);
    ERR_clear_error();
    return out;
  }
  out.detail = ossl::drain_errors("connection closed during the TLS handshake");
  if (peer) out.detail += "; backend certificate " + certificate_names(peer);
  return out;
}

}  // namespace mtlsd::tls
