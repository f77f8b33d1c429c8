#pragma once
// One event-loop thread: its own io_context, its own listening socket per
// service (SO_REUSEPORT when there are several workers, so the kernel spreads
// connections), its own sessions. Workers share only the read-only runtime
// (TLS contexts, policies) and the atomic connection counters; nothing on a
// connection's data path is shared or locked.
//
// Created and bound on the main thread; after start(), every member is used
// on the worker's own thread only, reached through post().

#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "mtlsd/proxy/listener.hpp"
#include "mtlsd/proxy/runtime.hpp"
#include "mtlsd/proxy/session.hpp"

namespace mtlsd::proxy {

class worker {
 public:
  explicit worker(runtime& rt) : runtime_(rt) {}
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;
  ~worker() { join(); }

  // Binds one listener per service at `endpoints[i]` (main thread, before start).
  void bind(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints, bool reuse_port);
  boost::asio::ip::tcp::endpoint local_endpoint(std::size_t service) const;

  void start();
  // Stops accepting; `on_idle` runs on this worker's thread once it has no session left.
  void begin_drain(std::function<void()> on_idle);
  // Ends every live session now (close=shutdown).
  void stop_sessions();
  void join();

 private:
  runtime& runtime_;
  boost::asio::io_context io_{1};
  session_registry registry_;
  std::vector<std::unique_ptr<listener>> listeners_;
  std::thread thread_;
};

}  // namespace mtlsd::proxy
