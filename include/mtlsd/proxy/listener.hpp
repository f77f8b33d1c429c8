#pragma once
// One listening socket on one worker and its accept loop. Each accepted
// connection is counted, checked against the limits and handed to a new
// session of the listener's *current* services: a reload that keeps the
// address swaps them (set_services) and the socket stays open, so no
// connection is refused or reset across a reload.
//
// Created and bound on the main thread; after start(), used only on its
// worker's thread (the server reaches it through post()). The accept loop
// holds a shared_ptr, so a closed listener lives until its loop has ended.
//
// Out of file descriptors, the loop pauses: `accept_paused` is logged once
// per episode (for all listeners), queued connections are closed at once
// through a reserve descriptor (platform/descriptors.hpp) every 100 ms, and
// accepting resumes (`accept_resumed`) once a proxied connection's two
// descriptors are free again.

#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mtlsd/platform/descriptors.hpp"
#include "mtlsd/proxy/runtime.hpp"
#include "mtlsd/proxy/service_group.hpp"
#include "mtlsd/proxy/session.hpp"

namespace mtlsd::proxy {

class listener : public std::enable_shared_from_this<listener> {
 public:
  // A listening socket at `endpoint`; throws std::runtime_error naming
  // `service` and the address. With `reuse_port`, every worker binds its own
  // socket to the same address and the kernel spreads new connections.
  static boost::asio::ip::tcp::acceptor bind(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
                                             bool reuse_port, const std::string& service);
  // A listening socket handed over by the service manager; `fd` is
  // duplicated, the caller keeps its own.
  static boost::asio::ip::tcp::acceptor adopt(boost::asio::io_context& io, int fd,
                                              const boost::asio::ip::tcp::endpoint& endpoint, const std::string& service);
  // The address a service's accept names (resolving a host name blocks; main thread only).
  static boost::asio::ip::tcp::endpoint resolve(boost::asio::io_context& io, const service_config& service);

  listener(boost::asio::ip::tcp::acceptor acceptor, std::shared_ptr<const service_group> services,
           connection_counter& global, session_registry& registry);

  void start();
  void set_services(std::shared_ptr<const service_group> services) { services_ = std::move(services); }
  void close();
  boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  boost::asio::awaitable<void> accept_loop(std::shared_ptr<listener> self);
  void refuse(boost::asio::ip::tcp::socket& socket, const service_runtime& service, limit_scope scope);

  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<const service_group> services_;
  connection_counter& global_;
  session_registry& registry_;
  boost::asio::steady_timer backoff_;
  bool closed_ = false;

  // Descriptor exhaustion (accept_paused .. accept_resumed): returns once
  // descriptors are free again or the listener closed. `refused`:
  // connections already accepted and closed for lack of a descriptor.
  boost::asio::awaitable<void> pause_for_descriptors(const error_code& ec, std::size_t refused);
  platform::descriptor_reserve reserve_;
};

}  // namespace mtlsd::proxy
