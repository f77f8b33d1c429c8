// Owned by the benchmark helper (bench/inproc).
#include "handshake_pair.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <time.h>

#include <memory>

#include "contexts.hpp"

namespace mtlsd::bench {
namespace {

struct ssl_free_fn {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using ssl_ptr = std::unique_ptr<SSL, ssl_free_fn>;

// The thread CPU clock, not wall time: only the server's own work counts,
// whatever else the machine is doing.
std::int64_t thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool wants_io(SSL* ssl, int ret) {
  const int e = SSL_get_error(ssl, ret);
  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

constexpr int max_rounds = 32;

}  // namespace

handshake_driver::handshake_driver(SSL_CTX* server_ctx, SSL_CTX* client_ctx)
    : server_ctx_(server_ctx), client_ctx_(client_ctx) {
  SSL_CTX_set_app_data(client_ctx_, this);
  SSL_CTX_sess_set_new_cb(client_ctx_, &handshake_driver::on_new_session);
}

handshake_driver::~handshake_driver() {
  if (latest_session_ != nullptr) SSL_SESSION_free(latest_session_);
}

int handshake_driver::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<handshake_driver*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (self->latest_session_ != nullptr) SSL_SESSION_free(self->latest_session_);
  self->latest_session_ = session;
  return 1;  // we keep the reference
}

handshake_outcome handshake_driver::run(bool resume) {
  handshake_outcome out;
  ssl_ptr client(SSL_new(client_ctx_));
  ssl_ptr server(SSL_new(server_ctx_));
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  if (!client || !server || BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) != 1) {
    out.error = "setup: " + drain_openssl_errors();
    return out;
  }
  SSL_set_bio(client.get(), client_bio, client_bio);  // one reference, owned by the SSL
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  if (resume && latest_session_ != nullptr) SSL_set_session(client.get(), latest_session_);

  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < max_rounds && !(client_done && server_done); ++round) {
    if (!client_done) {
      const int r = SSL_do_handshake(client.get());
      if (r == 1) {
        client_done = true;
      } else if (!wants_io(client.get(), r)) {
        out.error = "client handshake: " + drain_openssl_errors();
        return out;
      }
    }
    if (!server_done) {
      // The TLS 1.3 server writes its NewSessionTicket messages inside the
      // call that completes the handshake, so their cost is included.
      const std::int64_t before = thread_cpu_ns();
      const int r = SSL_do_handshake(server.get());
      out.server_cpu_ns += thread_cpu_ns() - before;
      if (r == 1) {
        server_done = true;
      } else if (!wants_io(server.get(), r)) {
        out.error = "server handshake: " + drain_openssl_errors();
        return out;
      }
    }
  }
  if (!(client_done && server_done)) {
    out.error = "handshake did not complete";
    return out;
  }
  // The client consumes the tickets the way mtlsd-loadgen does, with a read
  // that finds no application data.
  char byte = 0;
  const int r = SSL_read(client.get(), &byte, 1);
  if (r > 0 || !wants_io(client.get(), r)) {
    out.error = "reading tickets: " + drain_openssl_errors();
    return out;
  }
  out.resumed = SSL_session_reused(server.get()) == 1;
  // Freeing an SSL that never sent close_notify marks its session as not
  // resumable (OpenSSL treats it as a truncated connection), which would
  // poison the ticket just stored.
  SSL_shutdown(client.get());
  SSL_shutdown(server.get());
  ERR_clear_error();
  out.ok = true;
  return out;
}

}  // namespace mtlsd::bench
