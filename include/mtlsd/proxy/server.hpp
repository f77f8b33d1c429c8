#pragma once
// The daemon: binds every service on every worker, runs the workers, and on
// SIGTERM/SIGINT drains — stops accepting, lets live connections finish for up
// to drain_timeout, then closes them — and returns.
//
// The calling thread runs a small io_context of its own for signals and the
// drain timer; connections live on the workers (worker.hpp).

#include <cstddef>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mtlsd/proxy/runtime.hpp"
#include "mtlsd/proxy/worker.hpp"

namespace mtlsd::proxy {

class server {
 public:
  explicit server(std::unique_ptr<runtime> rt);
  ~server();

  // Binds every listener of every worker, or throws std::runtime_error.
  void bind();
  // Serves until a stop signal and the drain are over; returns the exit code.
  int run();

 private:
  void wait_for_signal();
  void begin_drain(int signal_number);
  void worker_idle();
  void finish();

  boost::asio::io_context io_{1};
  std::unique_ptr<runtime> runtime_;
  std::vector<std::unique_ptr<worker>> workers_;
  boost::asio::signal_set signals_{io_, SIGINT, SIGTERM};
  boost::asio::steady_timer drain_timer_{io_};
  std::size_t busy_workers_ = 0;  // during a drain; main thread only
  bool draining_ = false;
  bool finished_ = false;
};

}  // namespace mtlsd::proxy
