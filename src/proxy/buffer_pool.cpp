#include "mtlsd/proxy/buffer_pool.hpp"

#include <vector>

namespace mtlsd::proxy {

namespace {

// Enough for every connection of a busy worker moving data at the same moment;
// beyond that, a burst's extra buffers go back to the allocator.
constexpr std::size_t max_parked = 256;

std::vector<std::unique_ptr<char[]>>& free_list() {
  // Reserved up front so that giving a buffer back never allocates.
  thread_local std::vector<std::unique_ptr<char[]>> list = [] {
    std::vector<std::unique_ptr<char[]>> parked;
    parked.reserve(max_parked);
    return parked;
  }();
  return list;
}

thread_local std::size_t lent_count = 0;

}  // namespace

lent_buffer::lent_buffer() {
  ++lent_count;
  auto& list = free_list();
  if (list.empty()) {
    storage_ = std::make_unique_for_overwrite<char[]>(splice_buffer_size);
  } else {
    storage_ = std::move(list.back());
    list.pop_back();
  }
}

lent_buffer::~lent_buffer() {
  --lent_count;
  auto& list = free_list();
  if (list.size() < max_parked) list.push_back(std::move(storage_));
}

std::size_t lent_buffers() { return lent_count; }

void release_parked_buffers() {
  // clear() keeps the reserved capacity, so returning a buffer still never allocates.
  free_list().clear();
}

}  // namespace mtlsd::proxy
