// Owned by the benchmark helper (bench/loadgen).
//
// Every connection is a slot driven by a small state machine. Sockets are
// registered edge-triggered for both directions once, so the loop never pays
// an epoll_ctl per state change; the price is that a slot must be driven
// until OpenSSL reports WANT_READ/WANT_WRITE, or be queued to continue.
#include "worker.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "clock.hpp"
#include "error_report.hpp"

namespace mtlsd::bench {
namespace {

// Connect + handshake + first echo must finish within this (the spec's
// connect timeout); a stuck slot is failed and, in timed modes, reconnected.
constexpr std::int64_t op_timeout_ns = 5'000'000'000;
constexpr std::int64_t sweep_interval_ns = 50'000'000;
constexpr std::int64_t drain_limit_ns = 1'000'000'000;
// Steps per wake-up before a busy slot yields to the others.
constexpr int max_steps_per_wake = 64;
// Idle mode opens connections this many at a time (over all threads), so a
// 10,000-connection run neither floods the proxy's accept queue nor trips
// its handshake timeout.
constexpr unsigned idle_open_window = 200;
// Latency samples kept per thread (8 MiB); beyond it, reservoir sampling.
constexpr std::size_t latency_capacity = std::size_t{1} << 20;

const char* phase_text(int state) {
  static const char* const names[] = {"free",      "connecting", "handshaking", "ping_write", "ping_read",
                                      "streaming", "rtt_write",  "rtt_read",    "held"};
  return names[state];
}

}  // namespace

worker::worker(const loadgen_options& options, run_control& control, unsigned slots)
    : options_(options),
      control_(control),
      slots_(slots),
      latencies_(options.mode == load_mode::latency ? latency_capacity : 0) {
  start_queue_.reserve(slots);
  retry_queue_.reserve(slots);
  again_queue_.reserve(slots);
  again_scratch_.reserve(slots);
  std::size_t payload = 1;
  if (options.mode == load_mode::bulk) payload = options.chunk;
  if (options.mode == load_mode::latency) payload = options.size;
  write_buffer_.assign(payload, 'x');
}

worker::~worker() {
  close_all();
  if (latest_session_ != nullptr) SSL_SESSION_free(latest_session_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool worker::init(std::string& error) {
  ctx_ = make_client_context(options_, error);
  if (!ctx_) return false;
  SSL_CTX_set_app_data(ctx_.get(), this);
  if (options_.mode == load_mode::resume) {
    // TLS 1.3 tickets arrive after the handshake (we read them together with
    // the echo byte), so the callback is the only reliable way to get a
    // resumable session; SSL_get1_session right after the handshake is not.
    SSL_CTX_sess_set_new_cb(ctx_.get(), &worker::on_new_session);
  }
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    error = std::string("epoll_create1: ") + std::strerror(errno);
    return false;
  }
  return true;
}

int worker::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<worker*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (self->latest_session_ != nullptr) SSL_SESSION_free(self->latest_session_);
  self->latest_session_ = session;
  return 1;  // we keep the reference
}

void worker::run() {
  if (options_.mode == load_mode::idle) {
    run_idle();
  } else {
    run_timed();
  }
  close_all();
}

void worker::run_timed() {
  for (std::uint32_t i = 0; i < slots_.size(); ++i) start_queue_.push_back(i);
  std::int64_t next_sweep = now_ns() + sweep_interval_ns;
  for (;;) {  // ends at measure_end_ns: every wait below is bounded by it
    start_queued();
    const std::int64_t now = now_ns();
    if (now >= control_.measure_end_ns) break;
    if (now >= next_sweep) {
      sweep_timeouts(now);
      next_sweep = now + sweep_interval_ns;
    }
    int timeout_ms = 0;
    if (again_queue_.empty() && start_queue_.empty()) {
      const std::int64_t until = std::min(next_sweep, control_.measure_end_ns) - now;
      timeout_ms = static_cast<int>(std::max<std::int64_t>(0, (until + 999'999) / 1'000'000));
    }
    wait_for_events(timeout_ms);
    run_again_queue();
  }
  if (options_.mode == load_mode::handshake || options_.mode == load_mode::resume) drain_handshakes();
}

void worker::drain_handshakes() {
  // Cutting handshakes off mid-flight would show up in every proxy's log as
  // failures; the ones under way get a moment to finish (uncounted).
  running_ = false;
  const std::int64_t deadline = now_ns() + drain_limit_ns;
  auto busy = [this] {
    return std::any_of(slots_.begin(), slots_.end(), [](const slot& s) { return s.state != phase::free; });
  };
  while (busy() && now_ns() < deadline) {
    wait_for_events(again_queue_.empty() ? 10 : 0);
    run_again_queue();
  }
}

void worker::run_idle() {
  const auto total = static_cast<std::uint32_t>(slots_.size());
  const unsigned window = std::max(1U, idle_open_window / options_.threads);
  std::uint32_t next = 0;
  std::int64_t next_sweep = now_ns() + sweep_interval_ns;
  // Bounded: each slot is attempted once, and each attempt ends within
  // op_timeout_ns (sweep_timeouts).
  while (next < total || idle_in_flight_ > 0) {
    while (idle_in_flight_ < window && next < total) {
      if (start_connection(next)) ++idle_in_flight_;
      ++next;
    }
    if (idle_in_flight_ == 0) continue;
    const std::int64_t now = now_ns();
    if (now >= next_sweep) {
      sweep_timeouts(now);
      next_sweep = now + sweep_interval_ns;
    }
    const int timeout_ms = again_queue_.empty() ? static_cast<int>((next_sweep - now + 999'999) / 1'000'000) : 0;
    wait_for_events(timeout_ms);
    run_again_queue();
  }
  {
    const std::lock_guard lock(control_.mutex);
    ++control_.workers_opened;
  }
  control_.opened_changed.notify_all();
  // Held connections only need watching for the proxy dropping them; the main
  // thread ends this (stdin EOF or --hold).
  while (!control_.stop_holding.load(std::memory_order_acquire)) {
    wait_for_events(again_queue_.empty() ? 100 : 0);
    run_again_queue();
  }
}

void worker::wait_for_events(int timeout_ms) {
  const int n = ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
  for (int i = 0; i < n; ++i) {
    const std::uint64_t tag = events_[static_cast<std::size_t>(i)].data.u64;
    const auto index = static_cast<std::uint32_t>(tag);
    const auto generation = static_cast<std::uint32_t>(tag >> 32);
    if (index >= slots_.size()) continue;
    slot& s = slots_[index];
    if (s.generation != generation || s.state == phase::free) continue;  // an earlier connection's event
    s.read_blocked = false;
    s.write_blocked = false;
    drive(index);
  }
}

void worker::run_again_queue() {
  again_scratch_.swap(again_queue_);
  for (std::uint32_t index : again_scratch_) {
    slot& s = slots_[index];
    s.queued_again = false;
    // Driving the slot's current connection is right even if the queued one
    // has since been replaced: the step budget may have run out on it too.
    if (s.state != phase::free) drive(index);
  }
  again_scratch_.clear();
}

void worker::start_queued() {
  for (std::uint32_t index : start_queue_) {
    // An immediate failure (no ports, no descriptors, refused on loopback)
    // would fail again at once: retry at the next sweep instead of spinning.
    if (!start_connection(index)) retry_queue_.push_back(index);
  }
  start_queue_.clear();
}

void worker::drive(std::uint32_t index) {
  for (int i = 0; i < max_steps_per_wake; ++i) {
    if (advance(index) != step_result::progressed) return;
  }
  slot& s = slots_[index];
  if (!s.queued_again) {
    s.queued_again = true;
    again_queue_.push_back(index);
  }
}

bool worker::start_connection(std::uint32_t index) {
  slot& s = slots_[index];
  const int fd = ::socket(options_.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ++stats_.errors;
    report_error("socket", std::strerror(errno));
    return false;
  }
  // Small writes (the 1-byte echo, latency requests, TLS flights) must not
  // wait for Nagle.
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&options_.address), options_.address_length) != 0 &&
      errno != EINPROGRESS) {
    const int e = errno;
    ::close(fd);
    ++stats_.errors;
    report_error("connect", std::strerror(e));
    return false;
  }
  s.fd = fd;
  ++s.generation;
  s.state = phase::connecting;
  s.op_started_ns = now_ns();
  s.io_done = 0;
  s.read_blocked = false;
  s.write_blocked = false;
  // Even a connect that completed at once gets its event: EPOLL_CTL_ADD
  // reports readiness that already exists.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
  ev.data.u64 = (static_cast<std::uint64_t>(s.generation) << 32) | index;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int e = errno;
    ::close(fd);
    s.fd = -1;
    s.state = phase::free;
    ++stats_.errors;
    report_error("epoll_ctl", std::strerror(e));
    return false;
  }
  return true;
}

void worker::fail(std::uint32_t index, const char* stage, const std::string& reason) {
  ++stats_.errors;
  report_error(stage, reason);
  slot& s = slots_[index];
  const phase was = s.state;
  close_slot(s, false);
  after_close(index, was);
}

void worker::complete_handshake_op(std::uint32_t index) {
  slot& s = slots_[index];
  if (measuring(now_ns())) {
    ++stats_.ops;
    if (SSL_session_reused(s.ssl) == 1) ++stats_.resumed;
  }
  close_slot(s, true);
  after_close(index, phase::ping_read);
}

void worker::close_slot(slot& s, bool graceful) {
  if (s.ssl != nullptr) {
    // One close_notify, not waiting for the peer's: the spec's client closes
    // right after sending it, like most real clients.
    if (graceful && SSL_is_init_finished(s.ssl)) SSL_shutdown(s.ssl);
    SSL_free(s.ssl);
    s.ssl = nullptr;
    ERR_clear_error();  // a failed shutdown must not leak into the next call
  }
  if (s.fd >= 0) ::close(s.fd);  // also leaves the epoll set
  s.fd = -1;
  s.state = phase::free;
}

void worker::after_close(std::uint32_t index, phase was) {
  if (options_.mode == load_mode::idle) {
    if (was != phase::held) --idle_in_flight_;  // idle never reconnects
    return;
  }
  if (!running_) return;
  // A refused or unanswered connect would fail again at once; a failed
  // handshake is worth repeating immediately (refusals cost the proxy too).
  if (was == phase::connecting) {
    retry_queue_.push_back(index);
  } else {
    start_queue_.push_back(index);
  }
}

void worker::sweep_timeouts(std::int64_t now) {
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    slot& s = slots_[i];
    const bool opening = s.state == phase::connecting || s.state == phase::handshaking ||
                         s.state == phase::ping_write || s.state == phase::ping_read;
    if (opening && now - s.op_started_ns > op_timeout_ns) {
      fail(i, "timeout", std::string("no progress within 5 s while ") + phase_text(static_cast<int>(s.state)));
    }
  }
  if (options_.mode != load_mode::idle) {
    start_queue_.insert(start_queue_.end(), retry_queue_.begin(), retry_queue_.end());
    retry_queue_.clear();
  }
}

void worker::close_all() {
  running_ = false;
  for (slot& s : slots_) {
    if (s.state != phase::free) close_slot(s, true);
  }
}

}  // namespace mtlsd::bench
