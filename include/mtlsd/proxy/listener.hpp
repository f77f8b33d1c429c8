#pragma once
// One service's listening socket and its accept loop. Each accepted
// connection is checked against the limits and handed to a new session.
// Owned by the server; runs on the server's io_context.

#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mtlsd/proxy/runtime.hpp"
#include "mtlsd/proxy/session.hpp"

namespace mtlsd::proxy {

class listener {
 public:
  // Binds `endpoint` and listens; throws std::runtime_error naming the service
  // and address. With `reuse_port`, every worker binds its own socket to the
  // same address and the kernel spreads new connections across them.
  listener(boost::asio::io_context& io, runtime& rt, std::shared_ptr<service_runtime> service,
           session_registry& registry, const boost::asio::ip::tcp::endpoint& endpoint, bool reuse_port);

  // The address a service's accept names, resolved once at start-up.
  static boost::asio::ip::tcp::endpoint resolve(boost::asio::io_context& io, const service_runtime& service);

  boost::asio::awaitable<void> accept_loop();
  void close();

  boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  void refuse(boost::asio::ip::tcp::socket& socket, limit_scope scope);

  runtime& runtime_;
  std::shared_ptr<service_runtime> service_;
  session_registry& registry_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  bool closed_ = false;
};

}  // namespace mtlsd::proxy
