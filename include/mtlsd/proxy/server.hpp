#pragma once
// The daemon's event loop: binds every service's listener, accepts until
// SIGTERM/SIGINT, then drains (stops accepting, lets live connections finish
// for up to drain_timeout, then closes them) and returns.
//
// One io_context run by the calling thread. Everything a connection touches
// lives on that context, so a later multi-worker engine runs one server-like
// worker per thread without changing the session code.

#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mtlsd/proxy/listener.hpp"
#include "mtlsd/proxy/runtime.hpp"
#include "mtlsd/proxy/session.hpp"

namespace mtlsd::proxy {

class server {
 public:
  explicit server(std::unique_ptr<runtime> rt);

  // Binds every listener or none; throws std::runtime_error on the first failure.
  void bind();
  // Serves until a stop signal and the drain are over; returns the exit code.
  int run();

 private:
  void wait_for_signal();
  void begin_drain(int signal_number);
  void finish();

  boost::asio::io_context io_{1};
  std::unique_ptr<runtime> runtime_;
  session_registry registry_;
  std::vector<std::unique_ptr<listener>> listeners_;
  boost::asio::signal_set signals_{io_, SIGINT, SIGTERM};
  boost::asio::steady_timer drain_timer_{io_};
  bool draining_ = false;
  bool finished_ = false;
};

}  // namespace mtlsd::proxy
