// One load-generator thread: its own epoll loop, SSL_CTX and connection
// slots. Owned by the benchmark helper (bench/loadgen).
#pragma once

#include <openssl/ssl.h>
#include <sys/epoll.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "latency.hpp"
#include "options.hpp"
#include "tls_client.hpp"

namespace mtlsd::bench {

// Shared by the main thread and all workers.
struct run_control {
  std::int64_t measure_begin_ns = 0;  // operations count from here...
  std::int64_t measure_end_ns = 0;    // ...to here; timed modes stop here
  // Idle mode: workers report the end of their opening phase; the main thread
  // then prints "ready" and later tells them to let go.
  std::mutex mutex;
  std::condition_variable opened_changed;
  unsigned workers_opened = 0;  // guarded by mutex
  std::atomic<bool> stop_holding{false};
};

struct worker_stats {
  std::uint64_t ops = 0;      // completed operations in the measured window
  std::uint64_t errors = 0;   // whole run, including warm-up
  std::uint64_t resumed = 0;  // of ops, handshakes that resumed a session
  std::uint64_t bytes = 0;    // bulk: bytes echoed back in the window
  std::uint64_t opened = 0;   // idle: connections that reached "held"
};

class worker {
 public:
  // slots: concurrent clients (handshake, resume) or connections (others)
  // this thread owns.
  worker(const loadgen_options& options, run_control& control, unsigned slots);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  bool init(std::string& error);  // before the thread starts
  void run();                     // the thread body

  // Read after the thread has been joined (idle: opened is final, and may be
  // read, once the worker has counted itself in workers_opened).
  const worker_stats& stats() const { return stats_; }
  const latency_samples& latencies() const { return latencies_; }

 private:
  enum class phase : std::uint8_t {
    free,
    connecting,
    handshaking,
    ping_write,  // the 1-byte echo that proves the proxy reached the backend
    ping_read,
    streaming,   // bulk
    rtt_write,   // latency
    rtt_read,
    held,        // idle
  };
  enum class step_result : std::uint8_t { progressed, wait, closed };

  struct slot {
    int fd = -1;
    SSL* ssl = nullptr;
    phase state = phase::free;
    bool read_blocked = false;  // streaming: skip the side that would block
    bool write_blocked = false;
    bool queued_again = false;  // already in again_queue_
    std::uint32_t generation = 0;  // stale epoll events carry an old one
    std::int64_t op_started_ns = 0;
    std::size_t io_done = 0;
  };

  void run_timed();
  void run_idle();
  void drain_handshakes();
  void wait_for_events(int timeout_ms);
  void run_again_queue();
  void start_queued();
  void drive(std::uint32_t index);
  step_result advance(std::uint32_t index);
  step_result finish_connect(std::uint32_t index);
  step_result step_streaming(slot& s, std::uint32_t index);
  step_result ssl_wait_or_fail(std::uint32_t index, int ret, const char* stage);
  bool start_connection(std::uint32_t index);
  void fail(std::uint32_t index, const char* stage, const std::string& reason);
  void complete_handshake_op(std::uint32_t index);
  void close_slot(slot& s, bool graceful);
  void after_close(std::uint32_t index, phase was);
  void sweep_timeouts(std::int64_t now);
  void close_all();
  bool measuring(std::int64_t now) const {
    return now >= control_.measure_begin_ns && now < control_.measure_end_ns;
  }

  static int on_new_session(SSL* ssl, SSL_SESSION* session);

  const loadgen_options& options_;
  run_control& control_;
  ssl_ctx_ptr ctx_;
  int epoll_fd_ = -1;
  bool running_ = true;
  SSL_SESSION* latest_session_ = nullptr;  // resume mode; owned
  std::vector<slot> slots_;
  std::vector<std::uint32_t> start_queue_;  // free slots to reconnect
  std::vector<std::uint32_t> retry_queue_;  // reconnect at the next sweep
  std::vector<std::uint32_t> again_queue_;  // step budget used up, more to do
  std::vector<std::uint32_t> again_scratch_;
  unsigned idle_in_flight_ = 0;
  worker_stats stats_;
  latency_samples latencies_;
  std::vector<char> write_buffer_;
  std::array<char, 16 * 1024> read_buffer_{};  // one TLS record at most
  std::array<epoll_event, 512> events_{};
};

}  // namespace mtlsd::bench
