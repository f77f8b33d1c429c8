#pragma once
// Backends that misbehave on purpose, for the fault tests: one whose accept
// queue is full (connects neither succeed nor fail), one that accepts and then
// never reads, and mtlsd-echo run as a separate process so a test can SIGKILL
// it. Owned by the abuse/fault-test helper.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "process.hpp"

namespace mtlsd::test {

// A listener with a backlog of one, filled by a connection of our own: the
// kernel drops further SYNs, so a connect to it just waits.
class black_hole_listener {
 public:
  black_hole_listener();
  ~black_hole_listener();
  black_hole_listener(const black_hole_listener&) = delete;
  black_hole_listener& operator=(const black_hole_listener&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int listener_ = -1;
  int queued_ = -1;
  std::uint16_t port_ = 0;
};

// Accepts connections and never reads from them. The receive buffer is fixed
// at `receive_buffer` bytes (set before listen(), so accepted sockets inherit
// it and the kernel does not grow it), which bounds what the network can
// absorb on our side. Connections are closed when the object goes.
class non_reading_backend {
 public:
  explicit non_reading_backend(int receive_buffer = 64 * 1024, std::chrono::milliseconds lifetime = 60s);
  ~non_reading_backend();
  non_reading_backend(const non_reading_backend&) = delete;
  non_reading_backend& operator=(const non_reading_backend&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string connect_url() const { return "tcp://" + address(); }
  bool wait_accepted(std::size_t count, std::chrono::milliseconds timeout);
  // Bytes waiting unread in the receive queue of accepted connection `index` (FIONREAD).
  std::uint64_t unread(std::size_t index) const;
  // Whether the peer has closed accepted connection `index` (FIN or RST seen).
  bool peer_closed(std::size_t index, std::chrono::milliseconds timeout) const;

 private:
  void accept_loop(std::chrono::milliseconds lifetime);

  int listener_ = -1;
  int wake_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<int> accepted_;
  std::thread acceptor_;
};

// mtlsd-echo in a process of its own, listening on an ephemeral loopback port.
class echo_process {
 public:
  explicit echo_process(const std::string& binary);
  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string connect_url() const { return "tcp://" + address(); }
  process& proc() { return *process_; }
  // SIGKILL, then reaps it: every socket it had is closed by the kernel.
  void kill();

 private:
  std::unique_ptr<process> process_;
  std::uint16_t port_ = 0;
};

}  // namespace mtlsd::test
