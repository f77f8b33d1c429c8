#pragma once
// One event-loop thread: its own io_context, its own sessions, and one
// listening socket per service (owned by the server, which decides what each
// worker listens on and tells it through post()). Workers share only the
// read-only configuration generations and the atomic counters; nothing on a
// connection's data path is shared or locked.

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "mtlsd/proxy/listener.hpp"
#include "mtlsd/proxy/session.hpp"

namespace mtlsd::proxy {

class worker {
 public:
  worker() = default;
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;
  ~worker() { join(); }

  boost::asio::io_context& io() { return io_; }
  // Runs `fn` on this worker's thread.
  void post(std::function<void()> fn);

  void start();
  // Closes `listeners` (this worker's) and runs `on_closed`, then runs
  // `on_idle` once it has no session left — all on this worker's thread. One
  // task: posted separately, the loop could run out of work and return
  // between them.
  void close_then_when_idle(std::vector<std::shared_ptr<listener>> listeners, std::function<void()> on_closed,
                            std::function<void()> on_idle);
  // Ends every live session now (close=shutdown).
  void stop_sessions();
  // Judges every live TLS session again under `next` (session_registry::reevaluate_all).
  void reevaluate_sessions(std::shared_ptr<const runtime> next);
  void join();

 private:
  boost::asio::io_context io_{1};
  session_registry registry_;
  std::thread thread_;

 public:
  // Used by listeners, which live on this worker; on this worker's thread only.
  session_registry& registry() { return registry_; }
};

}  // namespace mtlsd::proxy
