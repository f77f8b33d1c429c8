#pragma once
// One client connection from accept to close:
//   [PROXY header in] -> handshake (verify + whitelist) -> connect backend
//   [-> PROXY header out] [-> TLS to the backend] -> splice -> access log line.
// session.cpp has the client side, the splice and the books;
// session_backend.cpp the connect phase; session_proxy_header.cpp the PROXY
// protocol in both directions.
// The session owns both sockets. It is kept alive by the coroutine that runs
// it (run() holds a shared_ptr to itself) until splicing starts, then by the
// relay's pending waits; the registry holds only a raw pointer so that
// shutdown can stop it. Everything runs on one executor.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>
#include <functional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mtlsd/proxy/limits.hpp"
#include "mtlsd/proxy/proxy_protocol.hpp"
#include "mtlsd/proxy/relay.hpp"
#include "mtlsd/proxy/runtime.hpp"
#include "mtlsd/proxy/service_group.hpp"
#include "mtlsd/proxy/tcp_stream.hpp"
#include "mtlsd/tls/handshake_verdict.hpp"
#include "mtlsd/tls/live_judge.hpp"
#include "mtlsd/tls/stream.hpp"

namespace mtlsd::proxy {

// Why a connection ended: the first event that ended it.
enum class close_reason {
  none,
  client_closed,
  backend_closed,
  idle_timeout,
  handshake_failed,
  backend_unreachable,
  backend_connect_timeout,
  client_error,
  backend_error,
  shutdown,
  max_connections,
  reevaluated,  // a reload's rules refused the client of a live connection (reevaluate_live)
  proxy_header_invalid,  // accept_proxy_protocol: no valid PROXY header within proxy_protocol_timeout
  backend_handshake_failed,  // the TLS handshake with a tls:// backend failed
};
std::string_view to_string(close_reason);

class session;

// The live sessions of one worker, for draining. Same executor as the sessions.
class session_registry {
 public:
  void add(session* s) { sessions_.insert(s); }
  void remove(session* s);
  std::size_t size() const { return sessions_.size(); }
  void stop_all();
  // Called (once per call to this function) when the last session is removed.
  void when_empty(std::function<void()> callback) { when_empty_ = std::move(callback); }
  // After a reload: judges every live TLS session again under its service's
  // context in `next` (same name; services with reevaluate_live = false
  // and those no longer TLS are skipped). Refused sessions close.
  void reevaluate_all(const std::shared_ptr<const runtime>& next);

 private:
  std::unordered_set<session*> sessions_;
  std::function<void()> when_empty_;
};

class session : public std::enable_shared_from_this<session> {
 public:
  // The session belongs to `services->front()` until the ClientHello's
  // server name selects another service of the group.
  session(boost::asio::ip::tcp::socket client, std::shared_ptr<const service_group> services, connection_slot slot,
          session_registry& registry);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  boost::asio::awaitable<void> run();
  // Ends the session promptly (drain deadline passed): close=shutdown.
  void stop();
  // A reload built `next`: if the client's certificate no longer passes its
  // service there (`judge`, null when the service is not re-judged),
  // ends the session with close=reevaluated. A session still in its
  // handshake is judged once the handshake completes — under the service
  // its server name selected, with its own judge.
  void reevaluate(const std::shared_ptr<const runtime>& next, tls::live_judge* judge);
  const std::string& service_name() const { return service_->config.name; }

  static std::uint64_t next_id();

 private:
  enum class phase { handshake, connect, splice, linger, done };

  boost::asio::awaitable<void> run_tls();
  boost::asio::awaitable<void> connect_then_relay(byte_stream& client);
  boost::asio::awaitable<error_code> connect_backend();
  // tls:// backends: the client handshake on the connected backend socket,
  // within what is left of connect_timeout. False (logged, client told) on failure.
  // One pick-connect-header round of the connect phase; true when it ended
  // the session (logged, client told).
  boost::asio::awaitable<bool> connect_backend_once(byte_stream& client);
  // retry: this backend's handshake failed and another may be tried.
  enum class upstream_result { established, retry, failed };
  boost::asio::awaitable<upstream_result> upstream_handshake();
  void log_upstream_failure(rejection_reason reason, const std::string& detail);
  // What the relay moves bytes to: the TLS stream for tls:// backends.
  byte_stream& backend_stream();
  boost::asio::awaitable<void> linger(boost::asio::ip::tcp::socket& socket);
  // Splicing runs on readiness callbacks (relay.hpp), not in the coroutine:
  // an idle connection then costs two pending waits instead of a stack of
  // coroutine frames.
  void start_relay(byte_stream& client);
  static void upstream_ended(void* self, relay_end how);
  static void downstream_ended(void* self, relay_end how);
  void relay_ended(bool client_to_backend, relay_end how);
  void finish();  // closes the books: one access line

  void enter(phase p, std::chrono::steady_clock::time_point deadline);
  void arm_watchdog(std::chrono::steady_clock::time_point deadline);
  void on_watchdog();
  void end(close_reason why);  // the first reason wins
  void cancel_client();
  void cancel_backend();
  // SNI routing: moves the session's books to the service the handshake
  // selected. False (and the connection refused) when that service is full.
  bool settle_service(bool handshake_ok);
  void refuse_over_service_limit();
  void record_tls_details();
  void log_handshake_failure() const;
  void log_access() const;
  // Closes the session when `verdict` refuses; true then.
  bool close_if_refused(const tls::live_verdict& verdict);
  // PROXY protocol (docs/backends.md). Receiving: false when the connection
  // was refused (logged, closed). Sending: right after the TCP connect to the
  // backend, before any upstream TLS, as HAProxy's send-proxy does.
  boost::asio::awaitable<bool> read_proxy_header();
  void reject_proxy_header(std::string_view reason, const std::string& detail, bool quiet);
  boost::asio::awaitable<error_code> send_proxy_header();
  std::vector<std::uint8_t> outgoing_proxy_header();
  // On an abnormal end (anything but client_closed/backend_closed): a backend
  // socket still holding unsent bytes is reset instead of closed
  // (session_abort.cpp).
  void abort_stuck_backend();
  bool ended_by_us() const {
    return close_reason_ == close_reason::shutdown || close_reason_ == close_reason::reevaluated;
  }

  const std::uint64_t id_;
  std::shared_ptr<const service_group> services_;
  std::shared_ptr<service_runtime> service_;
  connection_slot slot_;
  session_registry& registry_;

  boost::asio::ip::tcp::socket client_socket_;  // until handed to a stream
  std::optional<tls::stream> client_tls_;
  std::optional<tcp_stream> client_tcp_;
  boost::asio::ip::tcp::socket backend_socket_;  // until connected
  std::optional<boost::asio::ip::tcp::resolver> resolver_;
  std::optional<tcp_stream> backend_;
  std::optional<relay> upstream_;    // client -> backend
  std::optional<relay> downstream_;  // backend -> client
  int relays_running_ = 0;
  boost::asio::steady_timer watchdog_;

  phase phase_ = phase::handshake;
  bool deadline_passed_ = false;
  bool silent_probe_ = false;  // closed without sending a byte
  close_reason close_reason_ = close_reason::none;
  tls::handshake_verdict verdict_;

  std::string peer_;
  std::string backend_text_;
  std::string tls_version_, cipher_, verify_status_, server_name_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_activity_;
  std::uint64_t bytes_from_client_ = 0;
  std::uint64_t bytes_to_client_ = 0;
  // A reload happened during the handshake: judge under this once it completes.
  std::shared_ptr<const runtime> reevaluate_after_handshake_;
  rejection_reason live_rejection_ = rejection_reason::other;  // with close=reevaluated
  // The connection's addresses: the accepted socket's, or those a received
  // PROXY header carried (then real_peer_ names the balancer).
  std::optional<pp::address_pair> client_addresses_;
  std::string real_peer_;
  // The backend member this connection is (or is being) relayed to; counts it
  // as active there until the session ends.
  backend_lease backend_lease_;
  // The backends this connection tried, and when its connect phase ends
  // (connect_timeout bounds all attempts, upstream handshakes included).
  std::vector<const backend_member*> tried_backends_;
  std::chrono::steady_clock::time_point connect_deadline_;
  // tls:// backends (client_context.hpp).
  std::string backend_host_;  // the connect address's host: SNI and the name verified by default
  std::optional<tls::stream> backend_tls_;
  bool upstream_resumed_ = false;
  std::string alpn_;  // negotiated with the client; empty: none
  rejection_reason upstream_rejection_ = rejection_reason::other;  // with close=backend_handshake_failed
  std::string close_error_;  // with close=client_error/backend_error: the error that ended the relay
};

}  // namespace mtlsd::proxy
