// How a session lets go of a backend that stopped taking data. Part of
// proxy::session (session.hpp).
//
// close() on a socket whose send queue is not empty is a graceful close: the
// kernel keeps the orphaned socket, with its queued bytes (up to tcp_wmem's
// max, 4 MiB by default), and its FIN waits behind them. A backend that never
// reads never lets them go, so each such connection would pin that memory for
// as long as the kernel keeps probing a zero window (minutes), and the backend
// would never see the connection end. When the session ended abnormally the
// bytes are worthless anyway, so the connection is reset instead: the memory
// is freed at once and the backend sees the end as a reset — not as a clean
// end of the client's data.
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "mtlsd/proxy/session.hpp"

namespace mtlsd::proxy {

void session::abort_stuck_backend() {
  if (close_reason_ == close_reason::client_closed || close_reason_ == close_reason::backend_closed) return;
  boost::asio::ip::tcp::socket* socket = nullptr;
  if (backend_tls_)
    socket = &backend_tls_->socket();
  else if (backend_)
    socket = &backend_->socket();
  if (!socket || !socket->is_open()) return;
  int queued = 0;
  if (::ioctl(socket->native_handle(), SIOCOUTQ, &queued) != 0 || queued <= 0) return;
  // Closed here, explicitly: Asio turns a user-set linger off again when it
  // closes a socket from its destructor, so that a destructor never blocks.
  // Nothing waits on the socket any more once the session is finishing.
  error_code ignored;
  socket->set_option(boost::asio::socket_base::linger(true, 0), ignored);
  socket->close(ignored);
}

}  // namespace mtlsd::proxy
