#pragma once
// One service's [service.upstream] settings turned into a client SSL_CTX
// for its tls:// backends (docs/backends.md): built once per configuration
// generation, then shared read-only by every connection of the service on
// every worker. It also owns the client-side session cache, one session per
// (server name, backend address), so that reconnecting to a backend resumes.
// The cache is the only mutable part and is guarded by its own mutex.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mtlsd/config/config.hpp"
#include "mtlsd/config/error.hpp"
#include "mtlsd/tls/openssl.hpp"
#include "mtlsd/tls/rejection.hpp"

namespace mtlsd::tls {

using ssl_session_ptr = std::unique_ptr<SSL_SESSION, ossl::deleter<SSL_SESSION, SSL_SESSION_free>>;

class client_context {
 public:
  // Null with problems appended to `errors` (at the "upstream.<key>"
  // positions of `service`) when a file cannot be used. `listener_cert`:
  // the service's own server certificate (null for a tcp:// accept), which
  // must not also be presented to backends as the client identity.
  static std::shared_ptr<const client_context> build(const service_config& service, config_errors& errors,
                                                     std::vector<std::string>& warnings,
                                                     const X509* listener_cert = nullptr);
  ~client_context();
  client_context(const client_context&) = delete;
  client_context& operator=(const client_context&) = delete;

  // A new SSL for one connection to `host` (the connect address's host) at
  // `backend` ("ip:port", the session cache key): SNI, the name to verify,
  // ALPN (`client_alpn`: what the client negotiated, used when upstream.alpn
  // is empty) and a cached session to resume. Null on allocation failure.
  ossl::ssl_ptr new_ssl(const std::string& host, const std::string& backend, const std::string& client_alpn) const;

  // The name SNI carries and the certificate is checked against for `host`.
  std::string server_name_for(const std::string& host) const {
    return settings_.server_name.empty() ? host : settings_.server_name;
  }
  const upstream_tls_config& settings() const { return settings_; }
  // For `mtlsd check`: the client certificate's subject (empty: none
  // presented) and how many CAs the backend is checked against (0: system).
  const std::string& client_subject() const { return client_subject_; }
  const std::string& client_not_after() const { return client_not_after_; }
  std::size_t truststore_size() const { return truststore_size_; }

 private:
  client_context() = default;
  static int on_new_session(SSL* ssl, SSL_SESSION* session);
  void remember(const std::string& key, SSL_SESSION* session) const;
  ssl_session_ptr recall(const std::string& key) const;

  ossl::ssl_ctx_ptr ctx_;
  upstream_tls_config settings_;
  std::string client_subject_, client_not_after_;
  std::size_t truststore_size_ = 0;
  mutable std::mutex cache_mutex_;
  mutable std::map<std::string, ssl_session_ptr> sessions_;
};

// Why an upstream handshake failed, in the rejection vocabulary, and a
// human-readable detail naming the backend's certificate (subject, issuer),
// the names compared on a hostname mismatch, or the alert the backend sent.
struct upstream_failure {
  rejection_reason reason = rejection_reason::other;
  std::string detail;
};
// The last fatal alert the backend sent on `ssl` (an SSL_AD_* code), -1 if
// none. `read_pending`: first read what the socket still holds (after a
// failed write), without waiting.
int received_alert(SSL* ssl, bool read_pending = false);
// After a failed SSL_connect, or a TLS 1.3 refusal seen on the first read;
// drains the thread's error queue.
upstream_failure explain_upstream_failure(SSL* ssl, const std::string& server_name);

}  // namespace mtlsd::tls
