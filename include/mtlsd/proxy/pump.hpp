#pragma once
// One direction of a proxied connection: read from one stream, write to the
// other, until the source ends or either side fails. A buffer is borrowed only
// once the source is readable and returned once its bytes are written, so an
// idle direction holds none; while borrowed it is the only storage, so a slow
// reader stops us reading (backpressure) instead of making us buffer. A clean
// end of the source is passed on as a half-close.

#include <chrono>
#include <cstdint>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>

#include "mtlsd/proxy/buffer_pool.hpp"

namespace mtlsd::proxy {

enum class pump_end {
  source_eof,    // source closed cleanly; the sink got all data and a half-close
  source_error,  // reading failed (reset, TLS error, or cancelled)
  sink_error,    // writing or half-closing failed
};

struct pump_state {
  std::uint64_t bytes = 0;
  std::chrono::steady_clock::time_point* last_activity = nullptr;  // shared by both directions
};

template <typename Source, typename Sink>
boost::asio::awaitable<pump_end> pump(Source& from, Sink& to, pump_state& state) {
  for (;;) {
    if (auto ec = co_await from.wait_readable()) co_return pump_end::source_error;
    lent_buffer lent;
    const auto buffer = lent.bytes();
    auto [read_ec, n] = co_await from.read_some(boost::asio::buffer(buffer.data(), buffer.size()));
    if (read_ec == boost::asio::error::eof) {
      if (auto ec = co_await to.shutdown_send()) co_return pump_end::sink_error;
      co_return pump_end::source_eof;
    }
    if (read_ec) co_return pump_end::source_error;
    *state.last_activity = std::chrono::steady_clock::now();
    if (auto ec = co_await to.write_all(boost::asio::buffer(buffer.data(), n))) co_return pump_end::sink_error;
    state.bytes += n;
    *state.last_activity = std::chrono::steady_clock::now();
  }
}

}  // namespace mtlsd::proxy
