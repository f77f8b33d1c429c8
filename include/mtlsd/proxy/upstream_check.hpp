#pragma once
// The active health check of a tls:// backend (health_check_interval): after
// the check's TCP connect, the client handshake a real connection would make,
// with the service's upstream client context — SNI, hostname verification,
// truststore, our client certificate — then close_notify.
//
// Ownership: the daemon's backend_tasks runs it on its control executor; it
// works on the check's socket in place (OpenSSL reads and writes the
// non-blocking descriptor, Asio only waits for readiness), so the check's
// deadline and backend_tasks::stop() end it by cancelling or closing that
// socket. The context is shared, read-only, by every connection of the service.

#include <chrono>
#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "mtlsd/proxy/backend_pool.hpp"
#include "mtlsd/proxy/backend_tasks.hpp"
#include "mtlsd/tls/client_context.hpp"

namespace mtlsd::proxy {

// Passes when the handshake completes with a certificate that verifies and
// the backend sends no alert after it (TLS 1.3: the backend judges our
// certificate after our side finished); the backend's close_notify, its
// close, data or silence until the deadline all count as acceptance. A
// failure's error names the rejection reason and the detail a failed
// connection's upstream_handshake_failed line would carry. Ends by
// `deadline` (connect_timeout after the check began). A null `context`
// (tcp:// backends) passes at once.
boost::asio::awaitable<backend_tasks::step_result> upstream_tls_check(
    boost::asio::ip::tcp::socket& socket, std::shared_ptr<const tls::client_context> context,
    const backend_member& member, std::chrono::steady_clock::time_point deadline, duration connect_timeout);

}  // namespace mtlsd::proxy
