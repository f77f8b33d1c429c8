#include "mtlsd/proxy/memory_release.hpp"

#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>

#include "mtlsd/log/logging.hpp"
#include "mtlsd/proxy/buffer_pool.hpp"

namespace mtlsd::proxy {

namespace {

constexpr auto check_interval = std::chrono::seconds(2);

// Resident set in KiB, from /proc/self/statm (pages); 0 when unknown.
std::uint64_t resident_kib() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) / 1024;
}

}  // namespace

void trim_heap() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

memory_release::memory_release(boost::asio::io_context& control, const connection_counter& connections,
                               std::size_t workers, std::function<void(std::function<void()>)> run_on_workers)
    : timer_(control), connections_(connections), workers_(workers), run_on_workers_(std::move(run_on_workers)) {}

void memory_release::start() { schedule(); }

void memory_release::stop() {
  stopped_ = true;
  timer_.cancel();
}

void memory_release::schedule() {
  if (stopped_) return;
  timer_.expires_after(check_interval);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->stopped_) return;
    self->check();
    self->schedule();
  });
}

void memory_release::check() {
  const std::size_t active = connections_.active();
  if (active > peak_) peak_ = active;
  if (peak_ < active + min_drop || active > peak_ / 2) return;
  const std::size_t peak = peak_;
  peak_ = active;
  // The buffers are parked per worker thread, so each worker frees its own;
  // the last one trims the heap (malloc_trim covers every arena).
  auto remaining = std::make_shared<std::atomic<std::size_t>>(workers_);
  run_on_workers_([remaining, peak, active] {
    release_parked_buffers();
    if (remaining->fetch_sub(1) != 1) return;
    const std::uint64_t before = resident_kib();
    trim_heap();
    log::debug(log::record("memory_trimmed")
                   .add("connections", static_cast<std::uint64_t>(active))
                   .add("peak", static_cast<std::uint64_t>(peak))
                   .add("rss_before_kib", before)
                   .add("rss_after_kib", resident_kib()));
  });
}

}  // namespace mtlsd::proxy
