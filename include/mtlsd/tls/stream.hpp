#pragma once
// A TLS connection (server side towards clients, client side towards tls://
// backends) in which OpenSSL reads and writes the
// non-blocking socket itself and Asio only reports readiness (async_wait).
// There is no second copy of the data between a memory BIO and the socket,
// and sending close_notify never waits for the peer's, so each direction can
// be closed on its own.
//
// Owned by one session and used on that session's executor only: one reader
// and one writer coroutine may run at once (OpenSSL allows interleaved
// SSL_read/SSL_write on one thread); the handshake runs alone.

#include <cstddef>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "mtlsd/tls/byte_stream.hpp"
#include "mtlsd/tls/openssl.hpp"

namespace mtlsd::tls {

using error_code = boost::system::error_code;

class stream final : public byte_stream {
 public:
  stream(boost::asio::ip::tcp::socket socket, ossl::ssl_ptr ssl);

  // The server handshake. On failure OpenSSL's error queue is left intact for
  // explain_failure() (handshake_verdict.hpp).
  boost::asio::awaitable<error_code> accept();
  // The client handshake, towards a tls:// backend (client_context.hpp). On
  // failure the error queue is left for explain_upstream_failure().
  boost::asio::awaitable<error_code> connect();

  // Ends with asio::error::eof when the peer sent close_notify (or closed TCP).
  boost::asio::awaitable<std::pair<error_code, std::size_t>> read_some(boost::asio::mutable_buffer buffer);
  boost::asio::awaitable<error_code> write_all(boost::asio::const_buffer buffer);
  // Sends close_notify; does not wait for the peer's.
  boost::asio::awaitable<error_code> shutdown_send();

  // byte_stream: single non-blocking attempts, for the relay.
  io_step read_now(void* data, std::size_t size) override;
  io_step write_now(const void* data, std::size_t size) override;
  io_step shutdown_now() override;  // close_notify; never waits for the peer's
  // OpenSSL returns one record per read: more may follow when the record
  // filled the buffer or OpenSSL already holds further bytes.
  bool may_read_more(std::size_t got, std::size_t asked) const override {
    return got == asked || SSL_has_pending(ssl_.get()) == 1;
  }
  bool cancelled() const override { return cancelled_; }

  // Ends every pending operation, and every later one, with operation_aborted.
  void cancel();

  // One non-blocking attempt at close_notify, for endings that must not wait
  // (idle timeout, shutdown): the peer can then tell a deliberate close from
  // a truncation whenever the socket has room, and we close either way.
  void try_close_notify();

  SSL* native() const { return ssl_.get(); }
  boost::asio::ip::tcp::socket& socket() override { return socket_; }

 private:
  // paused: the handshake's async job waits for an OCSP answer (ocsp_check.hpp).
  enum class progress { done, again, paused, failed };
  progress after_call(int ret, bool keep_error_queue, error_code& ec);
  io_step step_of(int ret, std::size_t bytes);
  boost::asio::awaitable<error_code> wait_ready();

  boost::asio::ip::tcp::socket socket_;
  ossl::ssl_ptr ssl_;
  int pending_ = 0;  // SSL_ERROR_WANT_READ / _WRITE of the last call that must be retried
  bool cancelled_ = false;
};

}  // namespace mtlsd::tls
