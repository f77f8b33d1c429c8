#pragma once
// Running out of file descriptors (EMFILE/ENFILE) without hanging clients or
// spinning. Owned by the platform module; used by the service listeners and
// the admin endpoint.
//
// An accept() that fails for lack of a descriptor leaves the connection in
// the kernel's queue, where the client, whose TCP connect already succeeded,
// waits for a TLS reply that never comes. A reserve descriptor (an open
// /dev/null) is kept for that moment: released, its slot lets accept() take
// the queued connections one by one so they can be closed at once, then it is
// taken back. Clients get a prompt close (their load balancer can try another
// instance) instead of a timeout, and the accept loop pauses between rounds
// instead of retrying a socket that stays readable.

#include <cstddef>
#include <cstdint>
#include <optional>

#include <boost/system/error_code.hpp>

namespace mtlsd::platform {

// EMFILE (this process's limit) or ENFILE (the system's table).
bool out_of_descriptors(const boost::system::error_code& ec);

class descriptor_reserve {
 public:
  descriptor_reserve();  // holds nothing when no descriptor is free
  ~descriptor_reserve();
  descriptor_reserve(const descriptor_reserve&) = delete;
  descriptor_reserve& operator=(const descriptor_reserve&) = delete;

  bool held() const { return fd_ >= 0; }
  void release();
  bool restore();  // false: no descriptor free (another thread took the slot)

 private:
  int fd_ = -1;
};

// The soft RLIMIT_NOFILE; nullopt when unlimited or unknown.
std::optional<std::uint64_t> descriptor_limit();

// Descriptors this process has open (/proc/self/fd). Opening the directory
// takes a descriptor itself, so call it with one free (the reserve released);
// nullopt when that failed.
std::optional<std::size_t> open_descriptor_count();

// True when `count` more descriptors can be opened now (duplicates of `fd`
// are made and closed at once). A proxied connection needs a second one for
// its backend: without it the client would be accepted, made to complete a
// TLS handshake, and then fail at the backend connect.
bool descriptors_available(int fd, int count);

// With the reserve released: accepts and closes up to `max` connections
// queued on `listening_fd` (never blocking); returns how many. Leaves the
// reserve as it found it.
std::size_t shed_queued_connections(int listening_fd, std::size_t max);

}  // namespace mtlsd::platform
