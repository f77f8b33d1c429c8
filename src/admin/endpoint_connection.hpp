#pragma once
// One admin client connection: optional TLS handshake, then requests answered
// one at a time until either side closes. Owned by the admin endpoint's
// author. Kept alive by the coroutine that runs it; the owner's `open` set
// holds raw pointers only, so that stop() can reach every connection.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mtlsd/admin/endpoint.hpp"
#include "mtlsd/tls/handshake_verdict.hpp"
#include "mtlsd/tls/stream.hpp"

namespace mtlsd::admin::detail {

class connection;

// What the endpoint shares with its connections. Single-threaded: everything
// runs on the endpoint's io_context.
struct connection_owner {
  routes handler;
  endpoint_options options;
  std::shared_ptr<const tls::server_context> tls;
  std::unordered_set<connection*> open;
  bool stopped = false;  // once set, no route is called again
};

// "127.0.0.1:9090" / "[::1]:9090", as addresses appear in log lines.
std::string address_text(const boost::asio::ip::tcp::endpoint& address);

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(boost::asio::ip::tcp::socket socket, std::shared_ptr<connection_owner> owner);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Serves until the connection ends; `self` keeps it alive meanwhile.
  static boost::asio::awaitable<void> run(std::shared_ptr<connection> self);
  // Ends the connection promptly: pending and later I/O is aborted.
  void stop();

 private:
  using error_code = boost::system::error_code;
  using clock = std::chrono::steady_clock;

  boost::asio::awaitable<void> serve();
  boost::asio::awaitable<bool> handshake();
  boost::asio::awaitable<std::pair<error_code, std::size_t>> read_some(boost::asio::mutable_buffer buffer);
  boost::asio::awaitable<error_code> write_all(boost::asio::const_buffer buffer);
  // Our side is done: say so (close_notify, FIN), then read and discard what
  // the client still sends for a moment, so that closing does not turn into a
  // reset that could destroy the response (or alert) before it is read.
  boost::asio::awaitable<void> linger(bool close_notify);

  void arm(clock::time_point deadline);
  void on_deadline();
  void cancel_io();
  bool halted() const { return stopping_ || deadline_passed_; }
  boost::asio::ip::tcp::socket& raw() { return tls_ ? tls_->socket() : socket_; }
  void log_handshake_failure(bool silent) const;

  std::shared_ptr<connection_owner> owner_;
  boost::asio::ip::tcp::socket socket_;  // plain connections; TLS ones move it into tls_
  std::optional<tls::stream> tls_;
  boost::asio::steady_timer deadline_;
  bool deadline_passed_ = false;
  bool stopping_ = false;
  std::shared_ptr<const tls::server_context> context_;  // TLS only; kept for the connection's lifetime
  tls::handshake_verdict verdict_;
  std::string peer_;
};

}  // namespace mtlsd::admin::detail
