#include "endpoint_connection.hpp"

#include <openssl/err.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <exception>

#include "endpoint_http.hpp"
#include "mtlsd/log/logging.hpp"

namespace mtlsd::admin::detail {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// After our last byte, how long (and how much) we keep reading before
// closing. Closing with unread input makes the kernel send a reset, which can
// overtake the response or alert we just sent; clients normally close first.
constexpr auto linger_time = std::chrono::seconds(1);
constexpr std::size_t linger_max_bytes = 64 * 1024;

}  // namespace

std::string address_text(const tcp::endpoint& address) {
  try {
    const auto ip = address.address();
    const std::string host = ip.to_string();
    return (ip.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(address.port());
  } catch (const std::exception&) {
    return "unknown";
  }
}

connection::connection(tcp::socket socket, std::shared_ptr<connection_owner> owner)
    : owner_(std::move(owner)), socket_(std::move(socket)), deadline_(socket_.get_executor()) {
  error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  peer_ = ec ? "unknown" : address_text(remote);
  owner_->open.insert(this);
}

connection::~connection() { owner_->open.erase(this); }

asio::awaitable<void> connection::run(std::shared_ptr<connection> self) {
  co_await self->serve();
  self->deadline_.cancel();
}

void connection::stop() {
  stopping_ = true;
  deadline_.cancel();
  cancel_io();
}

asio::awaitable<void> connection::serve() {
  if (owner_->tls && !co_await handshake()) co_return;
  http_exchange exchange;
  for (;;) {
    // One deadline for reading a request and writing its answer: a client
    // that trickles bytes, or never reads, is gone after read_timeout.
    arm(clock::now() + owner_->options.read_timeout);
    while (!exchange.ready()) {
      const auto room = exchange.prepare();
      if (exchange.ready()) break;
      const auto [ec, n] = co_await read_some(room);
      if (ec == asio::error::eof && tls_ && !halted()) tls_->try_close_notify();
      // Closed, silent past the deadline, or stopping: nobody to answer.
      if (ec || n == 0) co_return;
      exchange.commit(n);
    }
    if (halted() || owner_->stopped) co_return;
    const reply answer = exchange.answer(owner_->handler);
    if (log::enabled(log_level::debug))
      log::debug(log::record("admin_request")
                     .add("peer", peer_)
                     .add("method", answer.method.empty() ? "-" : answer.method)
                     .add("path", answer.path.empty() ? "-" : answer.path)
                     .add("status", answer.status));
    if (co_await write_all(asio::buffer(answer.bytes))) co_return;
    if (!answer.keep_alive) break;
  }
  co_await linger(true);
}

asio::awaitable<bool> connection::handshake() {
  // Our own reference: a reload may replace the endpoint's context while
  // this handshake still consults this one.
  context_ = owner_->tls;
  verdict_.context = context_.get();
  ossl::ssl_ptr ssl(SSL_new(context_->native()));
  if (!ssl) {
    verdict_.refuse(rejection_reason::other, "cannot create a TLS session: " + ossl::drain_errors());
    log_handshake_failure(false);
    co_return false;
  }
  tls::attach(ssl.get(), &verdict_);
  auto& stream = tls_.emplace(std::move(socket_), std::move(ssl));
  arm(clock::now() + owner_->options.read_timeout);

  const error_code ec = co_await stream.accept();
  tls::attach(stream.native(), nullptr);  // the verdict is not consulted after the handshake
  if (!ec && !halted()) co_return true;
  if (stopping_) {
    ERR_clear_error();
    co_return false;
  }
  bool silent = false;
  if (deadline_passed_) {
    ERR_clear_error();
    verdict_.refuse(rejection_reason::timeout,
                    "handshake not completed within " + std::to_string(owner_->options.read_timeout.count()) + "ms");
  } else if (BIO_number_read(SSL_get_rbio(stream.native())) == 0) {
    // Port scans and TCP health checks: connected, closed, said nothing.
    ERR_clear_error();
    silent = true;
    verdict_.refuse(rejection_reason::other, "client closed the connection without sending a ClientHello");
  } else {
    tls::explain_failure(stream.native(), verdict_);
  }
  log_handshake_failure(silent);
  co_await linger(false);
  co_return false;
}

asio::awaitable<std::pair<connection::error_code, std::size_t>> connection::read_some(asio::mutable_buffer buffer) {
  if (halted()) co_return std::pair{error_code(asio::error::operation_aborted), std::size_t{0}};
  std::pair<error_code, std::size_t> got;
  if (tls_) {
    got = co_await tls_->read_some(buffer);
  } else {
    auto [ec, n] = co_await socket_.async_read_some(buffer, asio::as_tuple(asio::use_awaitable));
    got = {ec, n};
  }
  // A read that completed just as the deadline passed (or stop() came) still ends the connection.
  if (!got.first && halted()) got = {asio::error::operation_aborted, 0};
  co_return got;
}

asio::awaitable<connection::error_code> connection::write_all(asio::const_buffer buffer) {
  if (halted()) co_return asio::error::operation_aborted;
  error_code ec;
  if (tls_) {
    ec = co_await tls_->write_all(buffer);
  } else {
    auto [write_ec, n] = co_await asio::async_write(socket_, buffer, asio::as_tuple(asio::use_awaitable));
    ec = write_ec;
  }
  if (!ec && halted()) ec = asio::error::operation_aborted;
  co_return ec;
}

asio::awaitable<void> connection::linger(bool close_notify) {
  if (stopping_) co_return;
  arm(clock::now() + std::min<clock::duration>(linger_time, owner_->options.read_timeout));
  if (close_notify && tls_) {
    if (co_await tls_->shutdown_send()) co_return;
  }
  error_code ec;
  raw().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  char discard[4096];
  for (std::size_t total = 0; total < linger_max_bytes && !halted();) {
    auto [read_ec, n] = co_await raw().async_read_some(asio::buffer(discard), asio::as_tuple(asio::use_awaitable));
    if (read_ec) break;
    total += n;
  }
}

void connection::arm(clock::time_point deadline) {
  deadline_passed_ = false;
  deadline_.expires_at(deadline);
  deadline_.async_wait([weak = weak_from_this()](const error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_deadline();
  });
}

void connection::on_deadline() {
  deadline_passed_ = true;
  cancel_io();
}

void connection::cancel_io() {
  if (tls_) {
    tls_->cancel();
  } else {
    error_code ignored;
    socket_.cancel(ignored);
  }
}

void connection::log_handshake_failure(bool silent) const {
  log::emit(silent ? log_level::info : log_level::warn, log::record("admin_handshake_failed")
                                                            .add("peer", peer_)
                                                            .add("reason", to_string(verdict_.reason))
                                                            .add("detail", verdict_.detail));
}

}  // namespace mtlsd::admin::detail
