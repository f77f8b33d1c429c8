#include "mtlsd/proxy/upstream_check.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/errc.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "mtlsd/proxy/endpoint_text.hpp"

namespace mtlsd::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using step_result = backend_tasks::step_result;

namespace {

boost::system::error_code handshake_failed() {
  return boost::system::errc::make_error_code(boost::system::errc::protocol_error);
}

step_result failed(const tls::upstream_failure& failure) {
  return {handshake_failed(),
          "TLS handshake failed (" + std::string(to_string(failure.reason)) + "): " + failure.detail};
}

// Waits until the socket is ready for what OpenSSL asked; false when the
// wait was cancelled (deadline) or the socket closed (stop). The deadline is
// also checked here: a timer that fired while a readiness completion was
// already queued cancelled nothing, and must not leave the next wait unbounded.
asio::awaitable<bool> ready_for(tcp::socket& socket, int ssl_error, std::chrono::steady_clock::time_point deadline) {
  if (std::chrono::steady_clock::now() >= deadline) co_return false;
  auto [ec] = co_await socket.async_wait(ssl_error == SSL_ERROR_WANT_WRITE ? tcp::socket::wait_write
                                                                           : tcp::socket::wait_read,
                                         asio::as_tuple(asio::use_awaitable));
  co_return !ec;
}

bool wants_io(int ssl_error) { return ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE; }

}  // namespace

asio::awaitable<step_result> upstream_tls_check(tcp::socket& socket, std::shared_ptr<const tls::client_context> context,
                                                const backend_member& member,
                                                std::chrono::steady_clock::time_point deadline,
                                                duration connect_timeout) {
  if (!context) co_return step_result{};
  // The error queue is per thread and the data plane leaves nothing in it on
  // this one, but a check must start from a clean slate to explain its own failure.
  ERR_clear_error();
  ossl::ssl_ptr ssl = context->new_ssl(member.host(), to_text(member.endpoint()), "");
  if (!ssl) co_return step_result{handshake_failed(), "cannot create a TLS session: " + ossl::drain_errors()};
  // A resumed session skips certificate verification; the check must judge
  // the certificate the backend presents now.
  SSL_set_session(ssl.get(), nullptr);
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  // SSL_set_fd's BIO does not close the descriptor: the socket stays the owner.
  if (ec || SSL_set_fd(ssl.get(), socket.native_handle()) != 1)
    co_return step_result{ec ? ec : handshake_failed(), "cannot attach TLS to the socket: " + ossl::drain_errors()};

  for (;;) {
    const int ret = SSL_connect(ssl.get());
    if (ret == 1) break;
    const int err = SSL_get_error(ssl.get(), ret);
    if (!wants_io(err))
      co_return failed(tls::explain_upstream_failure(ssl.get(), context->server_name_for(member.host())));
    if (!co_await ready_for(socket, err, deadline)) {
      ERR_clear_error();
      co_return step_result{asio::error::timed_out, "TLS handshake not completed within connect_timeout (" +
                                                        format_duration(connect_timeout) + ")"};
    }
  }

  // TLS 1.3: our handshake ends before the backend has judged our
  // certificate; a refusal follows as an alert. So say goodbye and read the
  // answer: only an alert fails the check.
  SSL_shutdown(ssl.get());
  ERR_clear_error();
  for (;;) {
    char discard[512];
    std::size_t got = 0;
    const int ret = SSL_read_ex(ssl.get(), discard, sizeof discard, &got);
    if (ret == 1) break;
    const int err = SSL_get_error(ssl.get(), ret);
    if (wants_io(err) && co_await ready_for(socket, err, deadline)) continue;
    if (tls::received_alert(ssl.get()) >= 0)
      co_return failed(tls::explain_upstream_failure(ssl.get(), context->server_name_for(member.host())));
    break;
  }
  ERR_clear_error();
  co_return step_result{};
}

}  // namespace mtlsd::proxy
