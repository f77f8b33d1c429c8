#include "mtlsd/proxy/relay.hpp"

#include <boost/asio/post.hpp>

namespace mtlsd::proxy {

namespace asio = boost::asio;

namespace {

// Reads handled per readiness event before yielding to other connections, so
// one fast sender cannot starve a worker (8 × 16 KiB).
constexpr int reads_per_turn = 8;

}  // namespace

relay::relay(byte_stream& from, byte_stream& to, clock::time_point& last_activity, metrics::counter& moved)
    : from_(from), to_(to), last_activity_(last_activity), moved_(moved) {}

void relay::start(std::shared_ptr<void> owner, done_callback done, void* context) {
  done_ = done;
  context_ = context;
  step(std::move(owner));
}

void relay::step(keep_alive keep) {
  if (state_ == state::ended) return;
  if (from_.cancelled()) return finish(relay_end::source_error);
  if (to_.cancelled()) return finish(relay_end::sink_error);
  if (state_ == state::closing) return half_close_sink(keep);
  for (int turn = 0; turn < reads_per_turn; ++turn) {
    if (pending_ == 0 && !read_into_buffer(keep)) return;
    const bool more = from_.may_read_more(pending_, buffer_->bytes().size());
    if (!write_out(keep)) return;
    if (!more) {
      buffer_.reset();
      return wait_for(from_, io_status::want_read, keep);
    }
  }
  // Still more to read: come back after the other connections had a turn.
  // Posting keeps the order of completions fair without waiting on readiness
  // that has already been reported.
  asio::post(from_.socket().get_executor(), [this, keep = std::move(keep)]() mutable { step(std::move(keep)); });
}

bool relay::read_into_buffer(keep_alive& keep) {
  if (!buffer_) buffer_.emplace();
  const auto space = buffer_->bytes();
  const io_step got = from_.read_now(space.data(), space.size());
  switch (got.status) {
    case io_status::done:
      offset_ = 0;
      pending_ = got.bytes;
      last_activity_ = clock::now();
      return true;
    case io_status::want_read:
    case io_status::want_write:
      buffer_.reset();
      wait_for(from_, got.status, keep);
      return false;
    case io_status::eof:
      buffer_.reset();
      state_ = state::closing;
      half_close_sink(keep);
      return false;
    case io_status::failed:
      finish(relay_end::source_error, got.error);
      return false;
  }
  return false;
}

bool relay::write_out(keep_alive& keep) {
  while (pending_ > 0) {
    const io_step put = to_.write_now(buffer_->bytes().data() + offset_, pending_);
    switch (put.status) {
      case io_status::done:
        offset_ += put.bytes;
        pending_ -= put.bytes;
        bytes_ += put.bytes;
        moved_.add(put.bytes);
        break;
      case io_status::want_read:
      case io_status::want_write:
        wait_for(to_, put.status, keep);
        return false;
      case io_status::eof:
      case io_status::failed:
        finish(relay_end::sink_error, put.error);
        return false;
    }
  }
  last_activity_ = clock::now();
  // The buffer stays for the next read of this turn; it goes back as soon as
  // the source has nothing more (a short or a would-block read).
  return true;
}

void relay::half_close_sink(keep_alive& keep) {
  const io_step closed = to_.shutdown_now();
  switch (closed.status) {
    case io_status::done: return finish(relay_end::source_eof);
    case io_status::want_read:
    case io_status::want_write: return wait_for(to_, closed.status, keep);
    case io_status::eof:
    case io_status::failed: return finish(relay_end::sink_error, closed.error);
  }
}

void relay::wait_for(byte_stream& stream, io_status want, keep_alive& keep) {
  waiting_on_source_ = &stream == &from_;
  if (stream.cancelled()) return finish(waiting_on_source_ ? relay_end::source_error : relay_end::sink_error);
  const auto what = want == io_status::want_write ? asio::ip::tcp::socket::wait_write
                                                  : asio::ip::tcp::socket::wait_read;
  stream.socket().async_wait(what, [this, keep = std::move(keep)](const boost::system::error_code& ec) mutable {
    if (ec) return finish(waiting_on_source_ ? relay_end::source_error : relay_end::sink_error, ec);
    step(std::move(keep));
  });
}

void relay::finish(relay_end how, const boost::system::error_code& error) {
  state_ = state::ended;
  error_ = error;
  buffer_.reset();
  pending_ = 0;
  done_(context_, how);
}

}  // namespace mtlsd::proxy
