#pragma once
// One direction of a proxied connection: read from one stream, write to the
// other, until the source ends or either side fails. Driven by readiness
// callbacks rather than a coroutine, so an idle direction is one pending wait
// (about a hundred bytes) and holds no buffer: a buffer is borrowed when the
// source has bytes and returned once they are written. While borrowed it is
// the only storage, so a slow reader stops us reading (backpressure) instead
// of making us buffer. A clean end of the source is passed on as a half-close.
//
// Owned by the session, used on its executor only. Every pending wait holds
// `keep_alive` (the session), so the relay outlives its callbacks; the relay
// itself never stores it, so no cycle survives a destroyed event loop.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "mtlsd/proxy/buffer_pool.hpp"
#include "mtlsd/metrics/metrics.hpp"
#include "mtlsd/tls/byte_stream.hpp"

namespace mtlsd::proxy {

enum class relay_end {
  source_eof,    // source closed cleanly; the sink got all data and a half-close
  source_error,  // reading failed (reset, TLS error, or cancelled)
  sink_error,    // writing or half-closing failed
};

class relay {
 public:
  using clock = std::chrono::steady_clock;
  // Called once, when the direction ends.
  using done_callback = void (*)(void* context, relay_end);

  // `moved` (the service's byte counter) grows with every write, so /metrics
  // shows long-lived connections' traffic as it flows, not when they close.
  relay(byte_stream& from, byte_stream& to, clock::time_point& last_activity, metrics::counter& moved);
  relay(const relay&) = delete;
  relay& operator=(const relay&) = delete;

  void start(std::shared_ptr<void> keep_alive, done_callback done, void* context);
  std::uint64_t bytes() const { return bytes_; }
  // Why the direction failed (source_error/sink_error): the read, write or
  // wait error; empty when it was cancelled or ended cleanly.
  const boost::system::error_code& error() const { return error_; }

 private:
  enum class state : std::uint8_t { moving, closing, ended };

  using keep_alive = std::shared_ptr<void>;

  void step(keep_alive keep);
  bool read_into_buffer(keep_alive& keep);  // false: stopped (waiting or ended)
  bool write_out(keep_alive& keep);         // false: stopped (waiting or ended)
  void half_close_sink(keep_alive& keep);
  void wait_for(byte_stream& stream, io_status want, keep_alive& keep);
  void finish(relay_end how, const boost::system::error_code& error = {});

  byte_stream& from_;
  byte_stream& to_;
  clock::time_point& last_activity_;
  metrics::counter& moved_;
  done_callback done_ = nullptr;
  void* context_ = nullptr;

  std::optional<lent_buffer> buffer_;
  std::size_t offset_ = 0;   // first byte not yet written
  std::size_t pending_ = 0;  // bytes read and not yet written
  std::uint64_t bytes_ = 0;
  state state_ = state::moving;
  bool waiting_on_source_ = false;
  boost::system::error_code error_;
};

}  // namespace mtlsd::proxy
