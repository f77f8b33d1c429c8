// The per-connection state machine: one step of a slot's current phase.
// Owned by the benchmark helper (bench/loadgen).
//
// Each step makes at most one OpenSSL I/O call per direction and reports
// whether it progressed, must wait for the socket (WANT_READ/WANT_WRITE), or
// closed the slot; worker::drive repeats steps within a budget.
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "clock.hpp"
#include "worker.hpp"

namespace mtlsd::bench {

worker::step_result worker::advance(std::uint32_t index) {
  slot& s = slots_[index];
  switch (s.state) {
    case phase::free:
      return step_result::closed;
    case phase::connecting:
      return finish_connect(index);
    case phase::handshaking: {
      const int r = SSL_do_handshake(s.ssl);
      if (r != 1) return ssl_wait_or_fail(index, r, "handshake");
      if (options_.mode == load_mode::bulk) {
        s.state = phase::streaming;
      } else if (options_.mode == load_mode::latency) {
        s.state = phase::rtt_write;
        s.op_started_ns = now_ns();
      } else {
        s.state = phase::ping_write;
      }
      return step_result::progressed;
    }
    case phase::ping_write: {
      const int r = SSL_write(s.ssl, write_buffer_.data(), 1);
      if (r <= 0) return ssl_wait_or_fail(index, r, "write");
      s.state = phase::ping_read;
      return step_result::progressed;
    }
    case phase::ping_read: {
      // TLS 1.3 NewSessionTicket messages are consumed here, before the byte.
      const int r = SSL_read(s.ssl, read_buffer_.data(), 1);
      if (r <= 0) return ssl_wait_or_fail(index, r, "read echo");
      if (options_.mode == load_mode::idle) {
        s.state = phase::held;
        ++stats_.opened;
        --idle_in_flight_;
        return step_result::wait;
      }
      complete_handshake_op(index);
      return step_result::closed;
    }
    case phase::streaming:
      return step_streaming(s, index);
    case phase::rtt_write: {
      const int r = SSL_write(s.ssl, write_buffer_.data(), static_cast<int>(options_.size));
      if (r <= 0) return ssl_wait_or_fail(index, r, "write");
      s.state = phase::rtt_read;
      s.io_done = 0;
      return step_result::progressed;
    }
    case phase::rtt_read: {
      const std::size_t want = std::min(read_buffer_.size(), options_.size - s.io_done);
      const int r = SSL_read(s.ssl, read_buffer_.data(), static_cast<int>(want));
      if (r <= 0) return ssl_wait_or_fail(index, r, "read echo");
      s.io_done += static_cast<std::size_t>(r);
      if (s.io_done < options_.size) return step_result::progressed;
      const std::int64_t now = now_ns();
      if (measuring(now)) {
        ++stats_.ops;
        latencies_.record(now - s.op_started_ns);
      }
      s.state = phase::rtt_write;
      s.op_started_ns = now;
      return step_result::progressed;
    }
    case phase::held: {
      const int r = SSL_read(s.ssl, read_buffer_.data(), static_cast<int>(read_buffer_.size()));
      if (r > 0) return step_result::progressed;  // unexpected data: ignore
      return ssl_wait_or_fail(index, r, "held connection");
    }
  }
  return step_result::closed;
}

worker::step_result worker::step_streaming(slot& s, std::uint32_t index) {
  bool progress = false;
  if (!s.read_blocked) {
    const int r = SSL_read(s.ssl, read_buffer_.data(), static_cast<int>(read_buffer_.size()));
    if (r > 0) {
      progress = true;
      if (measuring(now_ns())) stats_.bytes += static_cast<std::uint64_t>(r);
    } else if (ssl_wait_or_fail(index, r, "bulk read") == step_result::closed) {
      return step_result::closed;
    } else {
      s.read_blocked = true;
    }
  }
  if (!s.write_blocked) {
    // A retried SSL_write must repeat the same arguments; it always does here.
    const int r = SSL_write(s.ssl, write_buffer_.data(), static_cast<int>(options_.chunk));
    if (r > 0) {
      progress = true;
    } else if (ssl_wait_or_fail(index, r, "bulk write") == step_result::closed) {
      return step_result::closed;
    } else {
      s.write_blocked = true;
    }
  }
  return progress ? step_result::progressed : step_result::wait;
}

worker::step_result worker::ssl_wait_or_fail(std::uint32_t index, int ret, const char* stage) {
  slot& s = slots_[index];
  const int e = SSL_get_error(s.ssl, ret);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return step_result::wait;
  fail(index, stage, describe_ssl_failure(s.ssl, ret, e));
  return step_result::closed;
}

worker::step_result worker::finish_connect(std::uint32_t index) {
  slot& s = slots_[index];
  int err = 0;
  socklen_t length = sizeof err;
  if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &length) != 0) err = errno;
  if (err != 0) {
    fail(index, "connect", std::strerror(err));
    return step_result::closed;
  }
  s.ssl = SSL_new(ctx_.get());
  if (s.ssl == nullptr || SSL_set_fd(s.ssl, s.fd) != 1) {
    fail(index, "SSL_new", drain_openssl_errors());
    return step_result::closed;
  }
  SSL_set_connect_state(s.ssl);
  // Handshake mode never offers a session, so every handshake is a full one
  // even though the server still issues tickets (a real client's load).
  if (options_.mode == load_mode::resume && latest_session_ != nullptr) SSL_set_session(s.ssl, latest_session_);
  s.state = phase::handshaking;
  return step_result::progressed;
}

}  // namespace mtlsd::bench
