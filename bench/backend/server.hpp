// mtlsd-backend's event loop: one thread, level-triggered epoll, plain TCP.
// Owned by the benchmark helper (bench/backend).
#pragma once

#include <array>
#include <cstddef>
#include <vector>

namespace mtlsd::bench {

enum class backend_mode { echo, discard };

class backend_server {
 public:
  // Takes ownership of listen_fd (bound, listening, non-blocking).
  backend_server(int listen_fd, backend_mode mode);
  ~backend_server();
  backend_server(const backend_server&) = delete;
  backend_server& operator=(const backend_server&) = delete;

  // Serves until SIGTERM or SIGINT (which the caller has blocked). Returns the
  // process exit code.
  int run();

 private:
  // Unsent echo bytes wait here only when the client does not read fast
  // enough; the vector keeps its capacity when the fd number is reused.
  struct connection {
    bool open = false;
    std::vector<char> pending;
    std::size_t pending_offset = 0;
  };

  void accept_ready();
  void on_readable(int fd);
  void on_writable(int fd);
  bool watch(int fd, unsigned events, bool add);
  void close_connection(int fd);
  void pause_listener(bool paused);

  int listen_fd_;
  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  backend_mode mode_;
  bool listener_paused_ = false;
  std::vector<connection> connections_;  // indexed by fd
  // One read buffer for all connections: data is echoed (or dropped) before
  // the next read, so no connection needs its own.
  std::array<char, 64 * 1024> buffer_{};
};

}  // namespace mtlsd::bench
