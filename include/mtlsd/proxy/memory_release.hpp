#pragma once
// Giving memory back after a connection spike. Owned by the proxy module;
// the server runs one on the control thread.
//
// Freed memory normally stays with the allocator: glibc returns the top of a
// heap to the system only when the topmost chunk is free, and ten thousand
// connections closing leave their freed memory scattered below live
// allocations. An operator sees RSS stay at the spike's peak forever. So
// every two seconds the active connection count is compared with its peak
// since the last release; once at least `min_drop` connections have gone and
// at most half of the peak remain, every worker hands its parked splice
// buffers back (buffer_pool.hpp) and the heap is trimmed (malloc_trim, which
// also returns free pages in the middle of a heap). Steady traffic never
// triggers it, so the trim's cost (it walks the heap holding the allocator's
// lock) is paid once per spike, not per connection.

#include <cstddef>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mtlsd/proxy/limits.hpp"

namespace mtlsd::proxy {

class memory_release : public std::enable_shared_from_this<memory_release> {
 public:
  static constexpr std::size_t min_drop = 512;

  // `run_on_workers` runs its task once on each of `workers` worker threads.
  memory_release(boost::asio::io_context& control, const connection_counter& connections, std::size_t workers,
                 std::function<void(std::function<void()>)> run_on_workers);
  void start();
  void stop();

 private:
  void schedule();
  void check();

  boost::asio::steady_timer timer_;
  const connection_counter& connections_;
  std::size_t workers_;
  std::function<void(std::function<void()>)> run_on_workers_;
  std::size_t peak_ = 0;
  bool stopped_ = false;
};

// Frees the memory the allocator holds but nobody uses (malloc_trim on glibc;
// nothing elsewhere).
void trim_heap();

}  // namespace mtlsd::proxy
