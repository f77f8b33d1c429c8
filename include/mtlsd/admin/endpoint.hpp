#pragma once
// The operations endpoint: a small HTTP/1.1 server (Boost.Beast parser and
// messages) on its own listening socket, optionally behind TLS with client
// certificates checked like any service (tls::server_context). It answers
// GET and HEAD only; everything it serves comes from the `routes` the daemon
// gives it. Requests are small and bounded: headers and body limits, a read
// timeout, at most `max_clients` connections at once.
//
// Runs on the io_context it is given (the daemon's main thread, never a
// worker), so a slow scraper cannot delay a proxied byte.
//
// HTTP details: HTTP/1.1 keep-alive (and pipelining) unless the client sends
// `Connection: close` (HTTP/1.0: unless it asks for keep-alive). Every
// response carries Content-Type (the route's), Content-Length, Cache-Control:
// no-store and Server: mtlsd. Other methods get 405 with Allow: GET, HEAD;
// a malformed request 400, a header over 8 KiB 431, a body over 4 KiB 413 —
// those four close the connection. A route that throws answers 500.
// A failed TLS handshake is logged as `admin_handshake_failed peer= reason=
// detail=` (warn; info for a connection that sent nothing); a connection
// over max_clients is closed at once and logged as `admin_connection_refused`.
//
// Threads: like any Asio object, use it from the io_context's thread (or
// while nothing runs that io_context). stop() alone may also be called from
// another thread: it is then queued on the io_context. Destroy the endpoint
// before its io_context.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "mtlsd/tls/server_context.hpp"

namespace mtlsd::admin {

struct response {
  unsigned status = 200;  // 200..599 (anything else is answered as 500); 204 and 304 send no body
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called for GET and HEAD (HEAD gets the same headers, no body) with the
// request target's path (no query string, not percent-decoded; an
// absolute-form target "http://host/p?q" gives "/p"), on the io_context's
// thread. Never called after stop().
using routes = std::function<response(std::string_view path)>;

struct endpoint_options {
  // Connections served at once; more are closed as soon as accepted.
  std::size_t max_clients = 16;
  // Time allowed for the TLS handshake, and then for each request to arrive
  // (from the end of the previous response) and its response to be sent.
  // Idle keep-alive connections are closed when it passes.
  std::chrono::milliseconds read_timeout{10000};
};

class endpoint {
 public:
  // Binds and listens at once; throws std::runtime_error naming the address.
  // `tls` null: plain HTTP.
  endpoint(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& address,
           std::shared_ptr<const tls::server_context> tls, routes handler, endpoint_options options = {});
  ~endpoint();
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Starts accepting (once; not after stop()).
  void start();
  // Stops accepting and ends every open admin connection; no route is called
  // afterwards. Once the connections' coroutines have unwound (promptly: all
  // their I/O is cancelled) nothing of the endpoint is left on the io_context,
  // so its run() can return.
  void stop();
  // A reload's new certificate, key or truststore, for connections accepted
  // from now on (TLS endpoints only; turning TLS on or off needs a restart).
  void set_tls(std::shared_ptr<const tls::server_context> tls);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace mtlsd::admin
