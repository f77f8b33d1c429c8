#pragma once
// Listening sockets handed over by the service manager (socket activation,
// sd_listen_fds(3)): $LISTEN_PID must be this process, $LISTEN_FDS sockets
// start at descriptor 3, and $LISTEN_FDNAMES names them (colon separated;
// FileDescriptorName= in a .socket unit). A service takes the inherited
// socket whose name equals the service's name, or else the one bound to
// exactly the service's accept address.
//
// Owned by the platform module. The descriptors stay owned by the
// inherited_sockets object (closed by its destructor): a caller that hands one
// to Asio (acceptor::assign) gives it a duplicate, fcntl(fd, F_DUPFD_CLOEXEC, 0).

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

namespace mtlsd::platform {

struct inherited_socket {
  int fd = -1;                              // owned by inherited_sockets
  std::string name;                         // from $LISTEN_FDNAMES; "" when none given
  boost::asio::ip::tcp::endpoint local;     // getsockname()
};

class inherited_sockets {
 public:
  // Takes the sockets from the environment (marking them close-on-exec) and
  // unsets $LISTEN_PID, $LISTEN_FDS and $LISTEN_FDNAMES, also when they were
  // meant for another process (then the result is empty). Descriptors that
  // are not listening TCP sockets, a malformed $LISTEN_FDS or a name count
  // that differs from it are errors: throws std::runtime_error naming the
  // descriptor (and its name), after closing all passed descriptors.
  static inherited_sockets from_environment();
  inherited_sockets() = default;
  ~inherited_sockets();
  inherited_sockets(inherited_sockets&&) noexcept;
  inherited_sockets& operator=(inherited_sockets&&) noexcept;

  // The socket for a service, by name first, then by address; nullopt: bind it ourselves.
  // The address must be equal, not merely covered: a socket on 0.0.0.0:443 is
  // not taken for a service on 127.0.0.1:443.
  std::optional<inherited_socket> find(const std::string& service_name,
                                       const boost::asio::ip::tcp::endpoint& accept) const;
  const std::vector<inherited_socket>& all() const { return sockets_; }
  bool empty() const { return sockets_.empty(); }

 private:
  std::vector<inherited_socket> sockets_;
};

}  // namespace mtlsd::platform
