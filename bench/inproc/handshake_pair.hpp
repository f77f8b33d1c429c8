// One client and one server SSL joined by an in-memory BIO pair, driven to a
// completed handshake in a single thread. Owned by the benchmark helper
// (bench/inproc).
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <string>

namespace mtlsd::bench {

struct handshake_outcome {
  bool ok = false;
  bool resumed = false;
  std::int64_t server_cpu_ns = 0;  // thread CPU time inside server calls only
  std::string error;
};

class handshake_driver {
 public:
  // Installs a new-session callback on client_ctx that keeps the newest
  // session (TLS 1.3 tickets arrive after the handshake).
  handshake_driver(SSL_CTX* server_ctx, SSL_CTX* client_ctx);
  ~handshake_driver();
  handshake_driver(const handshake_driver&) = delete;
  handshake_driver& operator=(const handshake_driver&) = delete;

  // resume: offer the newest session. Bounded: a handshake is a handful of
  // flights, so a few dozen rounds without completion means it is stuck.
  handshake_outcome run(bool resume);
  bool have_session() const { return latest_session_ != nullptr; }

 private:
  static int on_new_session(SSL* ssl, SSL_SESSION* session);

  SSL_CTX* server_ctx_;
  SSL_CTX* client_ctx_;
  SSL_SESSION* latest_session_ = nullptr;
};

}  // namespace mtlsd::bench
