#pragma once
// The data plane: the worker threads and every listening socket, and the
// switch from one configuration generation to the next.
//
// Listening sockets are keyed by the address a service's accept names
// (resolved; an ephemeral port 0 also by service name); services that share
// an address (SNI routing) share its socket as one service_group. A new
// generation keeps every socket whose address it still names — only the
// service behind it changes, for connections accepted from then on — binds
// the addresses that are new, and closes those no longer named; connections
// already accepted keep their old service until they end.
//
// Everything here is called on the control thread (the daemon's main
// thread, running `control`); workers are reached through post().

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mtlsd/platform/inherited_sockets.hpp"
#include "mtlsd/proxy/limits.hpp"
#include "mtlsd/proxy/listener.hpp"
#include "mtlsd/proxy/memory_release.hpp"
#include "mtlsd/proxy/runtime.hpp"
#include "mtlsd/proxy/worker.hpp"

namespace mtlsd::proxy {

struct listening_address {
  std::string service;
  boost::asio::ip::tcp::endpoint local;
  bool inherited = false;  // from the service manager (socket activation)
};

class server {
 public:
  server(boost::asio::io_context& control, const platform::inherited_sockets& inherited);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Start-up: creates the workers and binds every service of `first`. Throws
  // std::runtime_error naming the service and address.
  void bind(std::shared_ptr<const runtime> first);
  // Starts the workers and their accept loops.
  void start();
  // A reload: binds the addresses new in `next` and switches every worker's
  // listeners to it. Returns false with `error` when an address cannot be
  // bound; nothing has changed then and `current()` keeps serving.
  bool apply(std::shared_ptr<const runtime> next, std::string& error);

  const runtime& current() const { return *current_; }
  std::shared_ptr<const runtime> current_ptr() const { return current_; }
  std::vector<listening_address> listening() const;
  std::size_t active_connections() const { return connections_.active(); }
  std::size_t worker_count() const { return workers_.size(); }

  // Stops accepting: `on_closed` runs on the control thread once every
  // worker has closed its listening sockets (from then on the system refuses
  // new connections), `on_done` once every connection has ended — by
  // itself, or closed when drain_timeout passes.
  void drain(std::function<void()> on_closed, std::function<void()> on_done);
  // Closes every live connection now (a second stop signal).
  void stop_sessions();
  // After apply(next): every worker judges its live TLS connections again
  // under `next`, on its own thread, after the listeners have switched.
  void reevaluate_live(std::shared_ptr<const runtime> next);
  // `answered` runs on the control thread once every worker has run a task:
  // proof for the service manager's watchdog that no event loop is stuck.
  void ping_workers(std::function<void()> answered);
  // Waits for the worker threads (after a drain).
  void join();

 private:
  struct address_key {
    std::string address;        // resolved: "localhost:P" and "127.0.0.1:P" are one socket
    std::string ephemeral_for;  // service name when port is 0: each binds its own
    auto operator<=>(const address_key&) const = default;
  };
  struct bound_address {
    std::vector<std::string> services;
    boost::asio::ip::tcp::endpoint local;
    bool inherited = false;
    std::vector<std::shared_ptr<listener>> per_worker;  // index = worker
  };
  // Resolves the service's accept address (may block; throws std::runtime_error).
  address_key key_of(const service_config& service) const;
  struct planned_socket {
    address_key key;
    std::shared_ptr<const service_group> services;
  };
  // The sockets a generation needs, its services grouped by address (throws
  // std::runtime_error for two spellings of one address).
  std::vector<planned_socket> plan(const runtime& rt) const;
  bound_address bind_group(const std::shared_ptr<const service_group>& group);
  // One `listening` line per service of a newly bound `group`.
  void log_listening(const bound_address& bound, const service_group& group) const;

  boost::asio::io_context& control_;
  const platform::inherited_sockets& inherited_;
  std::shared_ptr<const runtime> current_;
  connection_counter connections_{0};  // across all services; max from the current generation
  std::vector<std::unique_ptr<worker>> workers_;
  std::map<address_key, bound_address> listeners_;
  boost::asio::steady_timer drain_timer_{control_};
  std::size_t busy_workers_ = 0;  // during a drain
  bool started_ = false;
  std::shared_ptr<memory_release> memory_release_;  // from start() until drain()
};

}  // namespace mtlsd::proxy
