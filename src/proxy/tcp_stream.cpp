#include "mtlsd/proxy/tcp_stream.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>

namespace mtlsd::proxy {

namespace asio = boost::asio;

namespace {

io_step step_of(const error_code& ec, std::size_t bytes, io_status would_block) {
  if (!ec) return {io_status::done, bytes, {}};
  if (ec == asio::error::would_block || ec == asio::error::try_again) return {would_block, 0, {}};
  if (ec == asio::error::eof) return {io_status::eof, 0, ec};
  return {io_status::failed, 0, ec};
}

}  // namespace

tcp_stream::tcp_stream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  error_code ignored;
  socket_.non_blocking(true, ignored);
}

io_step tcp_stream::read_now(void* data, std::size_t size) {
  error_code ec;
  const std::size_t n = socket_.read_some(asio::buffer(data, size), ec);
  return step_of(ec, n, io_status::want_read);
}

io_step tcp_stream::write_now(const void* data, std::size_t size) {
  error_code ec;
  const std::size_t n = socket_.write_some(asio::buffer(data, size), ec);
  return step_of(ec, n, io_status::want_write);
}

io_step tcp_stream::shutdown_now() {
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  return step_of(ec, 0, io_status::want_write);
}

void tcp_stream::cancel() {
  cancelled_ = true;
  error_code ignored;
  socket_.cancel(ignored);
}

}  // namespace mtlsd::proxy
