#pragma once
// Splice buffers are lent per read, not owned per connection: a connection
// borrows one when its source has bytes to move and gives it back once they
// are written, so an idle connection holds no buffer at all. Each worker
// thread keeps its own free list (coroutines never migrate between workers),
// so lending takes no lock and touches nothing another thread writes.

#include <cstddef>
#include <memory>
#include <span>

namespace mtlsd::proxy {

// 16 KiB is one maximal TLS record: reading less would split records across
// reads, reading more gains nothing.
inline constexpr std::size_t splice_buffer_size = 16 * 1024;

class lent_buffer {
 public:
  lent_buffer();  // borrows from this thread's free list, or allocates
  ~lent_buffer();  // returns it (the list keeps a bounded number)
  lent_buffer(const lent_buffer&) = delete;
  lent_buffer& operator=(const lent_buffer&) = delete;

  std::span<char> bytes() { return {storage_.get(), splice_buffer_size}; }

 private:
  std::unique_ptr<char[]> storage_;
};

// Buffers currently lent out on this thread (for tests and diagnostics).
std::size_t lent_buffers();

// Frees the buffers parked on this thread (after a spike; memory_release.hpp).
void release_parked_buffers();

}  // namespace mtlsd::proxy
