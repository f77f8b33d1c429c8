#pragma once
// A plain TCP connection behind the same non-blocking interface as
// tls::stream, so the relay moves bytes between any two kinds of stream.

#include <boost/asio/ip/tcp.hpp>

#include "mtlsd/tls/byte_stream.hpp"

namespace mtlsd::proxy {

using error_code = boost::system::error_code;

class tcp_stream final : public byte_stream {
 public:
  explicit tcp_stream(boost::asio::ip::tcp::socket socket);

  io_step read_now(void* data, std::size_t size) override;
  io_step write_now(const void* data, std::size_t size) override;
  io_step shutdown_now() override;  // FIN after everything written so far
  // A short read took everything the kernel had.
  bool may_read_more(std::size_t got, std::size_t asked) const override { return got == asked; }
  bool cancelled() const override { return cancelled_; }
  boost::asio::ip::tcp::socket& socket() override { return socket_; }

  void cancel();

 private:
  boost::asio::ip::tcp::socket socket_;
  bool cancelled_ = false;
};

}  // namespace mtlsd::proxy
