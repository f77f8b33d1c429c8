#pragma once
// A blocking TLS client for end-to-end tests, built on OpenSSL directly so a
// test controls exactly what is offered (certificate, chain, versions, SNI) and
// sees exactly what came back (the alert, the error text). Owned by the
// test-harness helper.
//
// Every operation has a timeout, so a proxy that stalls fails the test instead
// of hanging it. One thread may read while another writes (SSL calls are
// serialised internally; waiting happens outside the lock), which is how tests
// drive both directions at once.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

#include "payload.hpp"
#include "pki.hpp"

namespace mtlsd::test {

using namespace std::chrono_literals;

struct client_identity {
  // Either PEM files (the cert file may hold the chain after the leaf)...
  std::filesystem::path cert_file, key_file;
  // ...or objects from pki.hpp (up-referenced; they need not outlive the client).
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  std::vector<X509*> chain;  // intermediates sent after the leaf, nearest first

  static client_identity of(const issued& leaf, std::vector<const issued*> chain = {});
  static client_identity files(std::filesystem::path cert, std::filesystem::path key);

  // Makes `ctx` present this identity; throws harness_error when OpenSSL refuses it.
  void install(SSL_CTX* ctx) const;
};

struct tls_client_options {
  std::optional<client_identity> identity;  // nullopt: present no certificate
  std::filesystem::path ca_file;             // verify the server against this; empty: no verification
  std::string verify_host;                   // checked against the server cert when set (DNS name or IP)
  std::string sni = "localhost";             // empty: no SNI
  int min_version = TLS1_2_VERSION;
  int max_version = 0;                       // 0: the highest supported
  std::string cipher_list;                   // TLS <= 1.2 cipher string; empty: OpenSSL's default
  std::chrono::milliseconds timeout = 5s;    // per operation (without progress)
  // OpenSSL security level; -1: the system default. 0 lets a test present
  // keys the default would refuse to use (RSA-1024 for weak_key tests).
  int security_level = -1;
  bool request_ocsp_status = false;          // send status_request (ask for a stapled OCSP response)
  std::string preamble;                      // sent on the TCP connection before the handshake (a PROXY header)
  std::vector<std::string> alpn;             // ALPN protocols offered; empty: no ALPN
};

struct handshake_result {
  bool ok = false;
  std::string error;           // OpenSSL's error text or errno text
  std::string alert_received;  // an alert from the peer (RFC 8446 name), e.g. "unknown_ca"
  std::string version;         // "TLSv1.3"
  std::string cipher;
};

enum class read_end {
  none,          // still open (read_exact got its bytes)
  close_notify,  // the peer closed the TLS session cleanly
  eof,           // TCP EOF without close_notify
  error,         // reset, alert or other failure
  timeout,
};
std::string_view to_string(read_end);

struct read_result {
  std::string data;
  read_end end = read_end::none;
  std::string error;
  std::string alert_received;
  bool ok() const { return end == read_end::none || end == read_end::close_notify; }
};

struct write_result {
  bool ok = false;
  std::uint64_t written = 0;
  std::string error;
};

struct stream_result {
  std::uint64_t bytes = 0;
  std::string sha256;
  read_end end = read_end::none;
  std::string error;
};

struct probe_result {
  bool admitted = false;  // the payload came back through the proxy
  std::string alert_received;
  std::string error;
  std::string version;
};

class tls_client {
 public:
  explicit tls_client(tls_client_options options = {});
  ~tls_client();
  tls_client(const tls_client&) = delete;
  tls_client& operator=(const tls_client&) = delete;

  // TCP connect + handshake. With TLS 1.3 the client's handshake completes
  // before the server has looked at the client certificate, so `ok` here does
  // not mean "admitted" — use probe() for that.
  handshake_result connect(const std::string& host, std::uint16_t port);

  write_result write_all(std::string_view data);
  write_result write_stream(payload_source& source);
  read_result read_exact(std::size_t n);
  read_result read_until_eof(std::size_t max_bytes = 64 << 20);
  // Reads until close, hashing instead of keeping the bytes.
  stream_result read_stream_to_end();
  // Reads exactly `n` bytes, hashing them.
  stream_result read_stream(std::uint64_t n);

  // Sends close_notify (our half-close); further reads still work.
  bool shutdown();
  void close();  // drops the TCP connection

  // Round trip through an echo backend: admitted when `payload` comes back.
  probe_result probe(std::string_view payload = "probe\n");

  std::string last_alert_received() const;
  std::string version() const;
  // SHA-256 of the certificate the server presented on the current connection
  // (lowercase hex, no colons, as issued::sha256_hex()); empty when none.
  std::string peer_certificate_sha256() const;
  // The DER OCSP response the server stapled on the current connection;
  // empty when none (or when request_ocsp_status was not set).
  std::string ocsp_response() const;
  int fd() const { return fd_; }

  // Session resumption. session() is the current connection's session, or
  // null when it cannot be resumed; under TLS 1.3 the server's tickets arrive
  // after the handshake, so read something (probe()) before taking it.
  // offer_session() makes every later connect() offer `session` (null: offer
  // none); session_reused() tells whether the last connect() resumed it.
  std::shared_ptr<SSL_SESSION> session() const;
  void offer_session(std::shared_ptr<SSL_SESSION> session);
  bool session_reused() const;

 private:
  // Runs `op` under the SSL lock until it makes progress, waiting on the socket
  // as OpenSSL asks; returns OpenSSL's return value (> 0 on progress).
  int run(const std::function<int(SSL*)>& op, read_end& end, std::string& error);
  static void info_callback(const SSL* ssl, int where, int ret);

  tls_client_options options_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  mutable std::mutex mutex_;
  std::string alert_received_;
  std::shared_ptr<SSL_SESSION> offered_session_;
};

// RFC 8446 name of a TLS alert description: 48 -> "unknown_ca".
std::string alert_name(int code);

// This thread's OpenSSL error queue, emptied, as one line ("" when empty).
std::string openssl_errors();

// Plain TCP helpers for the non-TLS cases (slowloris, raw probes).
// Connect with a timeout; returns the fd (blocking mode), or -1 (sets `error`).
int tcp_connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
                std::string* error = nullptr);
// One plain TCP exchange: connects, sends `payload`, reads until as many bytes
// came back, the peer closed, or `timeout` passed with nothing to read.
// Returns what came back ("" also when the connect failed).
std::string tcp_exchange(const std::string& host, std::uint16_t port, const std::string& payload,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));
// Waits until the peer closes `fd` (EOF or reset), discarding data; returns how
// long that took, or nullopt when it is still open after `timeout`.
std::optional<std::chrono::milliseconds> wait_peer_close(int fd, std::chrono::milliseconds timeout);

}  // namespace mtlsd::test
