#pragma once
// A plain TCP connection with the same interface as tls::stream, so one pump
// (pump.hpp) moves bytes between any two kinds of stream.

#include <cstddef>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace mtlsd::proxy {

using error_code = boost::system::error_code;

class tcp_stream {
 public:
  explicit tcp_stream(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  // Completes when read_some would find bytes (or the end) without waiting.
  boost::asio::awaitable<error_code> wait_readable() {
    if (cancelled_) co_return error_code(boost::asio::error::operation_aborted);
    auto [ec] = co_await socket_.async_wait(boost::asio::ip::tcp::socket::wait_read,
                                            boost::asio::as_tuple(boost::asio::use_awaitable));
    if (!ec && cancelled_) ec = boost::asio::error::operation_aborted;
    co_return ec;
  }

  boost::asio::awaitable<std::pair<error_code, std::size_t>> read_some(boost::asio::mutable_buffer buffer) {
    if (cancelled_) co_return std::pair{error_code(boost::asio::error::operation_aborted), std::size_t{0}};
    auto [ec, n] = co_await socket_.async_read_some(buffer, boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return std::pair{ec, n};
  }

  boost::asio::awaitable<error_code> write_all(boost::asio::const_buffer buffer) {
    if (cancelled_) co_return error_code(boost::asio::error::operation_aborted);
    auto [ec, n] = co_await boost::asio::async_write(socket_, buffer, boost::asio::as_tuple(boost::asio::use_awaitable));
    (void)n;
    co_return ec;
  }

  // FIN after everything written so far.
  boost::asio::awaitable<error_code> shutdown_send() {
    error_code ec;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
    co_return ec;
  }

  void cancel() {
    cancelled_ = true;
    error_code ignored;
    socket_.cancel(ignored);
  }

  boost::asio::ip::tcp::socket& socket() { return socket_; }

 private:
  boost::asio::ip::tcp::socket socket_;
  bool cancelled_ = false;
};

}  // namespace mtlsd::proxy
