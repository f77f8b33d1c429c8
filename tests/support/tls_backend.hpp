#pragma once
// A TLS echo backend for upstream (tls:// connect) tests: a blocking
// OpenSSL server on an ephemeral 127.0.0.1 port, one thread per connection,
// that records what each client showed it — the client certificate's
// subject, the server name, the ALPN protocol it chose, whether the session
// was resumed, the PROXY header that came first when asked to expect one —
// and echoes bytes until the client ends. Owns its threads;
// the destructor stops and joins them.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mtlsd::test {

struct tls_backend_options {
  X509* cert = nullptr;        // the backend's certificate (not owned; up-referenced)
  EVP_PKEY* key = nullptr;
  X509* client_ca = nullptr;   // set: a client certificate issued by it is required
  std::vector<std::string> alpn;  // protocols it accepts, its preference order; empty: no ALPN
  // Reads a PROXY v1/v2 header before the handshake, as a backend behind
  // proxy_protocol does (recorded in tls_backend_record::proxy_header).
  bool proxy_header = false;
  std::uint16_t port = 0;  // 0: ephemeral; else this port (a backend restarted in place)
};

struct tls_backend_record {
  bool handshake_ok = false;
  std::string client_subject;  // empty: no certificate
  std::string sni;
  std::string alpn;
  bool resumed = false;
  std::string error;
  std::string proxy_header;  // the header's bytes, exactly (with proxy_header)
};

class tls_backend {
 public:
  explicit tls_backend(const tls_backend_options& options);
  ~tls_backend();
  tls_backend(const tls_backend&) = delete;
  tls_backend& operator=(const tls_backend&) = delete;

  std::uint16_t port() const { return port_; }
  // Waits until `count` handshakes (successful or not) were recorded; returns them all.
  std::vector<tls_backend_record> wait_records(std::size_t count,
                                               std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  void accept_loop();
  void serve(int fd);
  static int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                         unsigned int inlen, void* self);

  SSL_CTX* ctx_ = nullptr;
  std::string alpn_wire_;
  bool expect_proxy_header_ = false;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
  std::vector<tls_backend_record> records_;
};

}  // namespace mtlsd::test
