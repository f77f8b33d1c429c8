#pragma once
// Connection limits. A slot is taken at accept and released when the session
// ends; over the limit the connection is closed at once, never queued.
// Counters are atomic so that several worker threads can share them; they are
// touched once per connection, never per byte.

#include <atomic>
#include <cstddef>

namespace mtlsd::proxy {

class connection_counter {
 public:
  explicit connection_counter(std::size_t max) : max_(max) {}  // 0: unlimited
  bool try_acquire();
  void release() { active_.fetch_sub(1, std::memory_order_relaxed); }
  std::size_t active() const { return active_.load(std::memory_order_relaxed); }
  std::size_t max() const { return max_.load(std::memory_order_relaxed); }
  // A reload may change the limit; connections above a lowered limit stay.
  void set_max(std::size_t max) { max_.store(max, std::memory_order_relaxed); }

 private:
  std::atomic<std::size_t> max_;
  std::atomic<std::size_t> active_{0};
};

// One connection's hold on the global and the service counter.
class connection_slot {
 public:
  connection_slot() = default;
  connection_slot(connection_counter* global, connection_counter* service) : global_(global), service_(service) {}
  connection_slot(connection_slot&& other) noexcept { *this = std::move(other); }
  connection_slot& operator=(connection_slot&& other) noexcept;
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;
  ~connection_slot() { reset(); }
  void reset();
  // Adds the service's share to a slot taken before the service was known
  // (SNI routing picks it after the ClientHello). False when it is full.
  bool add_service(connection_counter& service);

 private:
  connection_counter* global_ = nullptr;
  connection_counter* service_ = nullptr;
};

enum class limit_scope { none, global, service };

// Takes a slot in both counters, or neither. `refused_by` tells which was full.
connection_slot try_admit(connection_counter& global, connection_counter& service, limit_scope& refused_by);
// The global share only; add_service() follows once the service is known.
connection_slot try_admit_global(connection_counter& global, limit_scope& refused_by);

}  // namespace mtlsd::proxy
