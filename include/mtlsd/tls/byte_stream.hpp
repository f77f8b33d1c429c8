#pragma once
// The non-blocking face shared by the client side (TLS or plain TCP) and the
// backend (plain TCP): try an operation now, and if it cannot finish, say
// which readiness to wait for. The relay (proxy/relay.hpp) moves bytes between
// any two of these without knowing which is which. Each call returns at once;
// the caller owns the waiting, so nothing is allocated per call.

#include <cstddef>
#include <cstdint>

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

namespace mtlsd {

enum class io_status : std::uint8_t {
  done,        // `bytes` moved (writes may be partial)
  want_read,   // retry once the socket is readable (for TLS: also on a write)
  want_write,  // retry once the socket is writable (for TLS: also on a read)
  eof,         // the peer ended its side cleanly (FIN, or close_notify)
  failed,      // `error` says why; the stream is unusable
};

struct io_step {
  io_status status = io_status::done;
  std::size_t bytes = 0;
  boost::system::error_code error;
};

class byte_stream {
 public:
  virtual ~byte_stream() = default;

  virtual io_step read_now(void* data, std::size_t size) = 0;
  // A retry after want_* must pass the same bytes again (possibly moved).
  virtual io_step write_now(const void* data, std::size_t size) = 0;
  // Ends our sending side after everything written so far.
  virtual io_step shutdown_now() = 0;
  // After a read that returned `got` of `asked` bytes: could another read
  // right now find more? When not, the caller waits for readiness instead of
  // paying for a read that would only say "would block" (Asio's waits report
  // readiness that already exists, so nothing is missed either way).
  virtual bool may_read_more(std::size_t got, std::size_t asked) const = 0;

  // Once cancelled, nobody may start a new wait on this stream.
  virtual bool cancelled() const = 0;
  virtual boost::asio::ip::tcp::socket& socket() = 0;
};

}  // namespace mtlsd
