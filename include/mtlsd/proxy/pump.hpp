#pragma once
// One direction of a proxied connection: read from one stream, write to the
// other, until the source ends or either side fails. The buffer is the only
// storage, so a slow reader stops us reading (backpressure) instead of making
// us buffer. A clean end of the source is passed on as a half-close.

#include <chrono>
#include <cstdint>
#include <span>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>

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
boost::asio::awaitable<pump_end> pump(Source& from, Sink& to, std::span<char> buffer, pump_state& state) {
  for (;;) {
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
