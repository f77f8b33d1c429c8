#pragma once
// The background work of backend pools, on one executor (the daemon's
// control io_context, never a worker): re-resolving host names every
// resolve_interval and, with health_check_interval, checking every member.
//
// Ownership: the daemon owns one backend_tasks for the process; it holds
// only weak references to pools, so a pool whose service went away (and
// whose last generation closed) ends its loops at their next tick. stop()
// (drain) cancels every timer and in-flight check so the executor can run out of work.
// All members of this class are used on the executor's thread only.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mtlsd/proxy/backend_pool.hpp"

namespace mtlsd::proxy {

struct runtime;

class backend_tasks {
 public:
  using error_code = boost::system::error_code;
  using endpoints = std::vector<boost::asio::ip::tcp::endpoint>;
  // Looks a host name up; the default uses Asio's resolver (getaddrinfo on
  // Asio's own thread), so the executor never blocks.
  using resolver_fn =
      std::function<boost::asio::awaitable<std::pair<error_code, endpoints>>(std::string host, std::uint16_t port)>;
  // What a check step found: a failure in `ec` counts the check as failed;
  // `error`, when set, is what backend_down says instead of ec's message
  // (a TLS failure's reason and detail say more than any error code).
  struct step_result {
    error_code ec;
    std::string error;
  };
  // After a check's TCP connect succeeded: more of a check on the connected
  // socket (a TLS handshake for tls:// backends), finished by `deadline`.
  // The socket must stay in place (not be moved from): the deadline and
  // stop() end the step by cancelling or closing it. The default: none.
  using check_step_fn = std::function<boost::asio::awaitable<step_result>(
      boost::asio::ip::tcp::socket& socket, const backend_member& member, const backend_pool& pool,
      std::chrono::steady_clock::time_point deadline)>;

  explicit backend_tasks(boost::asio::any_io_executor executor, resolver_fn resolver = {},
                         check_step_fn check_step = {});
  backend_tasks(const backend_tasks&) = delete;
  backend_tasks& operator=(const backend_tasks&) = delete;
  ~backend_tasks();

  // Starts the loops of pools not seen before (start-up, each reload).
  void watch(const runtime& rt);
  void watch(const std::shared_ptr<backend_pool>& pool);
  void stop();

  // One health check of `member`: TCP connect (and check_step) within the
  // pool's connect_timeout. Exposed for tests.
  boost::asio::awaitable<bool> check(std::shared_ptr<backend_pool> pool, std::shared_ptr<backend_member> member);

 private:
  struct task;
  boost::asio::awaitable<void> resolve_loop(std::shared_ptr<task> t);
  boost::asio::awaitable<void> health_loop(std::shared_ptr<task> t);

  boost::asio::any_io_executor executor_;
  resolver_fn resolver_;
  check_step_fn check_step_;
  std::vector<std::shared_ptr<task>> tasks_;
  std::shared_ptr<bool> stopped_;
};

}  // namespace mtlsd::proxy
