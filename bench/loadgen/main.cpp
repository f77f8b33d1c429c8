// mtlsd-loadgen: the benchmark's TLS load generator. It shares a core with
// the backend while the proxy under test gets the other, so it is built to be
// cheap: hand-written epoll loops, SSL objects straight on the socket, no
// allocation per connection beyond OpenSSL's own.
// Owned by the benchmark helper (bench/loadgen).
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "clock.hpp"
#include "latency.hpp"
#include "options.hpp"
#include "worker.hpp"

namespace {

using namespace mtlsd::bench;

// Idle mode holds one descriptor per connection; the soft limit is often 1024
// while the hard one allows far more.
void raise_fd_limit(unsigned connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  const rlim_t needed = static_cast<rlim_t>(connections) + 64;
  if (limit.rlim_cur < needed) {
    std::fprintf(stderr, "mtlsd-loadgen: warning: open-file limit %llu is below the %llu this run needs\n",
                 static_cast<unsigned long long>(limit.rlim_cur), static_cast<unsigned long long>(needed));
  }
}

// Holds until stdin reaches EOF (the runner closes it) or hold_seconds pass.
void hold(double hold_seconds) {
  const std::int64_t deadline = now_ns() + seconds_to_ns(hold_seconds);
  char sink[4096];
  for (;;) {
    const std::int64_t left = deadline - now_ns();
    if (left <= 0) return;
    pollfd p{STDIN_FILENO, POLLIN, 0};
    const int timeout_ms = static_cast<int>(std::min<std::int64_t>(1000, (left + 999'999) / 1'000'000));
    const int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || (p.revents & POLLNVAL) != 0) return;  // no usable stdin: nothing to wait for
    if (r == 0) continue;
    const ssize_t got = ::read(STDIN_FILENO, sink, sizeof sink);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return;  // EOF
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = parse_loadgen_options(argc, argv);
  if (!parsed) return 2;
  const loadgen_options& options = *parsed;
  // A peer that resets while we write must be an error code, not a signal.
  std::signal(SIGPIPE, SIG_IGN);

  const bool per_client = options.mode == load_mode::handshake || options.mode == load_mode::resume;
  const unsigned total = per_client ? options.concurrency : options.connections;
  raise_fd_limit(total);
  const unsigned threads = std::min(options.threads, total);  // no thread without a slot

  run_control control;
  std::vector<std::unique_ptr<worker>> workers;
  for (unsigned i = 0; i < threads; ++i) {
    const unsigned slots = total / threads + (i < total % threads ? 1 : 0);
    workers.push_back(std::make_unique<worker>(options, control, slots));
    std::string error;
    if (!workers.back()->init(error)) {
      std::fprintf(stderr, "mtlsd-loadgen: %s\n", error.c_str());
      return 2;
    }
  }

  control.measure_begin_ns = now_ns() + seconds_to_ns(options.warmup_seconds);
  control.measure_end_ns = control.measure_begin_ns + seconds_to_ns(options.duration_seconds);
  std::vector<std::thread> running;
  running.reserve(threads);
  for (auto& w : workers) running.emplace_back([&w] { w->run(); });

  if (options.mode == load_mode::idle) {
    {
      // Each worker's opening phase is bounded (one attempt per connection,
      // 5 s timeout each), so this wait ends.
      std::unique_lock lock(control.mutex);
      control.opened_changed.wait(lock, [&] { return control.workers_opened == threads; });
    }
    std::uint64_t opened = 0;
    for (const auto& w : workers) opened += w->stats().opened;
    std::printf("ready connections=%llu\n", static_cast<unsigned long long>(opened));
    std::fflush(stdout);
    hold(options.hold_seconds);
    control.stop_holding.store(true, std::memory_order_release);
  }
  for (auto& t : running) t.join();

  worker_stats sum;
  std::vector<const latency_samples*> samples;
  for (const auto& w : workers) {
    sum.ops += w->stats().ops;
    sum.errors += w->stats().errors;
    sum.resumed += w->stats().resumed;
    sum.bytes += w->stats().bytes;
    sum.opened += w->stats().opened;
    samples.push_back(&w->latencies());
  }
  const double seconds = static_cast<double>(control.measure_end_ns - control.measure_begin_ns) / 1e9;
  const auto ull = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  bool nothing_done = sum.ops == 0;
  switch (options.mode) {
    case load_mode::handshake:
    case load_mode::resume:
      std::printf("result mode=%s ops=%llu seconds=%.3f rate=%.1f errors=%llu resumed=%llu\n",
                  mode_name(options.mode), ull(sum.ops), seconds, static_cast<double>(sum.ops) / seconds,
                  ull(sum.errors), ull(sum.resumed));
      break;
    case load_mode::bulk:
      nothing_done = sum.bytes == 0;
      std::printf("result mode=bulk connections=%u bytes=%llu seconds=%.3f mbps=%.2f errors=%llu\n",
                  options.connections, ull(sum.bytes), seconds, static_cast<double>(sum.bytes) / seconds / 1e6,
                  ull(sum.errors));
      break;
    case load_mode::latency: {
      const latency_summary l = summarize(samples);
      std::printf(
          "result mode=latency connections=%u ops=%llu seconds=%.3f rate=%.1f p50_us=%.1f p99_us=%.1f "
          "p999_us=%.1f max_us=%.1f errors=%llu\n",
          options.connections, ull(sum.ops), seconds, static_cast<double>(sum.ops) / seconds, l.p50_us, l.p99_us,
          l.p999_us, l.max_us, ull(sum.errors));
      break;
    }
    case load_mode::idle:
      nothing_done = sum.opened == 0;
      std::printf("result mode=idle connections=%u opened=%llu errors=%llu\n", options.connections,
                  ull(sum.opened), ull(sum.errors));
      break;
  }
  std::fflush(stdout);
  return nothing_done ? 1 : 0;
}
