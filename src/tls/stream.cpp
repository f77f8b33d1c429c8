#include "mtlsd/tls/stream.hpp"

#include <openssl/err.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>

#include "mtlsd/tls/error.hpp"
#include "mtlsd/tls/ocsp_check.hpp"

namespace mtlsd::tls {

namespace asio = boost::asio;
using asio::ip::tcp;

stream::stream(tcp::socket socket, ossl::ssl_ptr ssl) : socket_(std::move(socket)), ssl_(std::move(ssl)) {
  error_code ec;
  socket_.non_blocking(true, ec);
  SSL_set_fd(ssl_.get(), static_cast<int>(socket_.native_handle()));
}

stream::progress stream::after_call(int ret, bool keep_error_queue, error_code& ec) {
  if (ret > 0) return progress::done;
  const int saved_errno = errno;
  const int error = SSL_get_error(ssl_.get(), ret);
  switch (error) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      pending_ = error;
      return progress::again;
    case SSL_ERROR_WANT_ASYNC:
      return progress::paused;
    case SSL_ERROR_ZERO_RETURN:
      ec = asio::error::eof;
      break;
    case SSL_ERROR_SYSCALL:
      if (unsigned long e = ERR_peek_error())
        ec = make_error(e);
      else if (saved_errno != 0)
        ec = error_code(saved_errno, boost::system::system_category());
      else
        ec = asio::error::eof;
      break;
    default:
      ec = make_error(ERR_peek_error());
      break;
  }
  if (!keep_error_queue) ERR_clear_error();
  return progress::failed;
}

asio::awaitable<error_code> stream::wait_ready() {
  if (cancelled_) co_return asio::error::operation_aborted;
  const auto what = pending_ == SSL_ERROR_WANT_WRITE ? tcp::socket::wait_write : tcp::socket::wait_read;
  auto [ec] = co_await socket_.async_wait(what, asio::as_tuple(asio::use_awaitable));
  if (!ec && cancelled_) ec = asio::error::operation_aborted;
  co_return ec;
}

asio::awaitable<error_code> stream::accept() {
  bool job_paused = false;
  for (;;) {
    // A paused job is resumed even after a cancel, so that it runs to its
    // end (the verify callback then refuses) instead of staying parked.
    if (cancelled_ && !job_paused) co_return asio::error::operation_aborted;
    job_paused = false;
    ERR_clear_error();
    error_code ec;
    switch (after_call(SSL_accept(ssl_.get()), true, ec)) {
      case progress::done:
        // Reads and writes never wait for anyone but the peer; as async
        // jobs they would only pay the job switch on every call.
        SSL_clear_mode(ssl_.get(), SSL_MODE_ASYNC);
        co_return error_code{};
      case progress::failed: co_return ec;
      case progress::paused:
        co_await answer_pending_ocsp(ssl_.get());
        job_paused = true;
        break;
      case progress::again:
        if (auto wait_ec = co_await wait_ready()) co_return wait_ec;
    }
  }
}

asio::awaitable<error_code> stream::connect() {
  for (;;) {
    if (cancelled_) co_return asio::error::operation_aborted;
    ERR_clear_error();
    error_code ec;
    switch (after_call(SSL_connect(ssl_.get()), true, ec)) {
      case progress::done: co_return error_code{};
      case progress::failed: co_return ec;
      case progress::paused:  // no async jobs on the client side
        co_return asio::error::operation_not_supported;
      case progress::again:
        if (auto wait_ec = co_await wait_ready()) co_return wait_ec;
    }
  }
}

// The coroutine forms below are the non-blocking steps plus a wait.
namespace {
bool must_wait(const io_step& step) {
  return step.status == io_status::want_read || step.status == io_status::want_write;
}
}  // namespace

asio::awaitable<std::pair<error_code, std::size_t>> stream::read_some(asio::mutable_buffer buffer) {
  for (;;) {
    if (cancelled_) co_return std::pair{error_code(asio::error::operation_aborted), std::size_t{0}};
    const io_step got = read_now(buffer.data(), buffer.size());
    if (got.status == io_status::done) co_return std::pair{error_code{}, got.bytes};
    if (!must_wait(got)) co_return std::pair{got.error, std::size_t{0}};
    if (auto wait_ec = co_await wait_ready()) co_return std::pair{wait_ec, std::size_t{0}};
  }
}

asio::awaitable<error_code> stream::write_all(asio::const_buffer buffer) {
  const auto* data = static_cast<const unsigned char*>(buffer.data());
  std::size_t left = buffer.size();
  while (left > 0) {
    if (cancelled_) co_return asio::error::operation_aborted;
    // A retried SSL_write must repeat the same arguments; we only advance on success.
    const io_step put = write_now(data, left);
    if (put.status == io_status::done) {
      data += put.bytes;
      left -= put.bytes;
    } else if (!must_wait(put)) {
      co_return put.error;
    } else if (auto wait_ec = co_await wait_ready()) {
      co_return wait_ec;
    }
  }
  co_return error_code{};
}

asio::awaitable<error_code> stream::shutdown_send() {
  for (;;) {
    if (cancelled_) co_return asio::error::operation_aborted;
    const io_step closed = shutdown_now();
    if (closed.status == io_status::done) co_return error_code{};
    if (!must_wait(closed)) co_return closed.error;
    if (auto wait_ec = co_await wait_ready()) co_return wait_ec;
  }
}

io_step stream::step_of(int ret, std::size_t bytes) {
  io_step step;
  switch (after_call(ret, false, step.error)) {
    case progress::done:
      step.bytes = bytes;
      break;
    case progress::again:
      step.status = pending_ == SSL_ERROR_WANT_WRITE ? io_status::want_write : io_status::want_read;
      break;
    case progress::failed:
      step.status = step.error == asio::error::eof ? io_status::eof : io_status::failed;
      break;
    case progress::paused:  // async mode ends with the handshake; never here
      step.status = io_status::failed;
      step.error = asio::error::operation_not_supported;
      break;
  }
  return step;
}

io_step stream::read_now(void* data, std::size_t size) {
  std::size_t n = 0;
  const int ret = SSL_read_ex(ssl_.get(), data, size, &n);
  return step_of(ret, n);
}

io_step stream::write_now(const void* data, std::size_t size) {
  std::size_t n = 0;
  const int ret = SSL_write_ex(ssl_.get(), data, size, &n);
  return step_of(ret, n);
}

io_step stream::shutdown_now() {
  ERR_clear_error();
  const int ret = SSL_shutdown(ssl_.get());
  // 0: our close_notify is out and the peer's not yet read — all we want.
  return step_of(ret >= 0 ? 1 : ret, 0);
}

void stream::try_close_notify() {
  ERR_clear_error();
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

void stream::cancel() {
  cancelled_ = true;
  error_code ignored;
  socket_.cancel(ignored);
}

}  // namespace mtlsd::tls
