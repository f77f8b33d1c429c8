#pragma once
// A TLS client whose bytes pass through memory BIOs, so the test decides how
// they reach the socket: one byte per send(), paused before a given flight,
// or not at all. It also hands out the SSL object for what tls_client hides on
// purpose (renegotiation, early data). Owned by the abuse/fault-test helper.
//
// Single-threaded and blocking with a timeout per operation, like tls_client.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

#include "tls_client.hpp"

namespace mtlsd::test {

struct pumped_outcome {
  bool ok = false;
  read_end end = read_end::none;  // how a failed operation ended
  std::string error;
};

class pumped_tls_client {
 public:
  // The same options as tls_client (identity, CA, versions, SNI, timeout);
  // `preamble` and `alpn` are not used.
  explicit pumped_tls_client(const tls_client_options& options);
  ~pumped_tls_client();
  pumped_tls_client(const pumped_tls_client&) = delete;
  pumped_tls_client& operator=(const pumped_tls_client&) = delete;

  // TCP only (TCP_NODELAY, so each send() leaves as its own segment).
  bool connect_tcp(const std::string& host, std::uint16_t port, std::string* error = nullptr);
  int fd() const { return fd_; }
  // Drops the TCP connection with RST (SO_LINGER 0) instead of FIN.
  void reset();
  SSL* native() { return ssl_; }

  // Client output goes out in pieces of at most `bytes`, one send() each,
  // `gap` apart (0: as produced, at once).
  void set_pacing(std::size_t bytes, std::chrono::microseconds gap = {});
  // Offer `session` on the next handshake (before the first operation).
  void offer_session(SSL_SESSION* session);

  // Calls `op` until it returns > 0, moving bytes between the BIOs and the
  // socket; anything OpenSSL produced is sent even when `op` fails (alerts).
  pumped_outcome run(const std::function<int(SSL*)>& op);
  pumped_outcome handshake();
  pumped_outcome write(std::string_view data);
  // Reads until `n` bytes arrived or the connection ended.
  read_result read_exact(std::size_t n);
  read_result read_until_end();

  // Runs `op` once without touching the socket and returns what it produced
  // (e.g. the ClientHello); the caller sends it, or not.
  std::string produce(const std::function<int(SSL*)>& op);
  // Sends `bytes` with the current pacing; false when the peer is gone.
  bool send_paced(std::string_view bytes);
  // Waits for bytes from the server and feeds them to OpenSSL without
  // processing them; false when the server closed or `timeout` passed.
  bool receive_some(std::chrono::milliseconds timeout);

  // Alerts the server sent (RFC 8446 names), the last one; "" when none.
  std::string alert_received() const { return alert_received_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }

 private:
  bool flush();
  static void info_callback(const SSL* ssl, int where, int ret);

  tls_client_options options_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* to_server_ = nullptr;    // OpenSSL writes here; we send it
  BIO* from_server_ = nullptr;  // we put received bytes here; OpenSSL reads
  int fd_ = -1;
  std::size_t piece_ = 0;
  std::chrono::microseconds gap_{0};
  bool peer_closed_ = false;
  std::string alert_received_;
  std::uint64_t bytes_sent_ = 0;
};

}  // namespace mtlsd::test
