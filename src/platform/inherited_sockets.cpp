#include "mtlsd/platform/inherited_sockets.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "platform/environment.hpp"

namespace mtlsd::platform {

using detail::parse_decimal;
using detail::take_env;

namespace {

// sd_listen_fds(3): the first passed descriptor is always 3 (after stdin, stdout, stderr).
constexpr int first_fd = 3;
// Far above any socket unit's count; guards against a corrupt $LISTEN_FDS
// making us walk (and close) the whole descriptor table.
constexpr int max_fds = 4096;

std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> names;
  std::size_t start = 0;
  while (true) {
    const auto colon = text.find(':', start);
    names.push_back(text.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return names;
}

std::string describe(int fd, const std::string& name) {
  std::string out = "inherited socket fd " + std::to_string(fd);
  if (!name.empty()) out += " (\"" + name + "\")";
  return out;
}

int int_option(int fd, int level, int option, const std::string& what) {
  int value = 0;
  socklen_t length = sizeof value;
  if (::getsockopt(fd, level, option, &value, &length) != 0)
    throw std::runtime_error(what + ": " + (errno == ENOTSOCK ? std::string("not a socket") : std::strerror(errno)));
  return value;
}

boost::asio::ip::tcp::endpoint local_endpoint(int fd, const std::string& what) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0)
    throw std::runtime_error(what + ": getsockname: " + std::strerror(errno));
  if (storage.ss_family == AF_INET) {
    sockaddr_in v4{};
    std::memcpy(&v4, &storage, sizeof v4);
    return {boost::asio::ip::address_v4(ntohl(v4.sin_addr.s_addr)), ntohs(v4.sin_port)};
  }
  if (storage.ss_family == AF_INET6) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, &storage, sizeof v6);
    boost::asio::ip::address_v6::bytes_type bytes{};
    std::memcpy(bytes.data(), v6.sin6_addr.s6_addr, bytes.size());
    return {boost::asio::ip::address_v6(bytes, v6.sin6_scope_id), ntohs(v6.sin6_port)};
  }
  throw std::runtime_error(what + ": not an IPv4 or IPv6 socket (address family " +
                           std::to_string(storage.ss_family) + ")");
}

inherited_socket inspect(int fd, const std::string& name) {
  const std::string what = describe(fd, name);
  if (int_option(fd, SOL_SOCKET, SO_TYPE, what) != SOCK_STREAM)
    throw std::runtime_error(what + ": not a stream socket (ListenStream= expected)");
  boost::asio::ip::tcp::endpoint local = local_endpoint(fd, what);
  // SOCK_STREAM also covers SCTP's one-to-one style, which would accept
  // connections that the proxy then misreads as TCP.
  if (int_option(fd, SOL_SOCKET, SO_PROTOCOL, what) != IPPROTO_TCP)
    throw std::runtime_error(what + ": not a TCP socket");
  // A connected socket here means the unit has Accept=yes (one service
  // instance per connection), which mtlsd does not support.
  if (int_option(fd, SOL_SOCKET, SO_ACCEPTCONN, what) == 0)
    throw std::runtime_error(what + ": not a listening socket (Accept=no expected)");
  return inherited_socket{fd, name, local};
}

}  // namespace

inherited_sockets inherited_sockets::from_environment() {
  // Unset first, whatever happens next: a child process must never believe
  // these descriptors are meant for it.
  const std::string pid_text = take_env("LISTEN_PID").value_or("");
  const std::optional<std::string> fds_text = take_env("LISTEN_FDS");
  const std::optional<std::string> names_text = take_env("LISTEN_FDNAMES");

  inherited_sockets out;
  pid_t pid = 0;
  // Set for another process (a wrapper that exec'd us after forking): not ours to take.
  if (!parse_decimal(pid_text, pid) || pid != ::getpid() || !fds_text) return out;
  int count = 0;
  if (!parse_decimal(*fds_text, count) || count < 0 || count > max_fds)
    throw std::runtime_error("LISTEN_FDS=\"" + *fds_text + "\" is not a number of sockets");
  if (count == 0) return out;

  // Close-on-exec before anything can fail: whatever happens, a backend
  // helper or re-exec must not inherit them.
  for (int fd = first_fd; fd < first_fd + count; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);

  std::vector<std::string> names;
  if (names_text) names = split_names(*names_text);
  if (names_text && names.size() != static_cast<std::size_t>(count)) {
    for (int fd = first_fd; fd < first_fd + count; ++fd) ::close(fd);
    throw std::runtime_error("LISTEN_FDNAMES names " + std::to_string(names.size()) + " sockets but LISTEN_FDS=" +
                             std::to_string(count));
  }

  out.sockets_.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    const int fd = first_fd + i;
    const std::string name = names.empty() ? std::string() : names[static_cast<std::size_t>(i)];
    try {
      out.sockets_.push_back(inspect(fd, name));
    } catch (...) {
      // All passed descriptors are ours: those inspected close with `out`, close the rest here.
      for (int rest = fd; rest < first_fd + count; ++rest) ::close(rest);
      throw;
    }
  }
  return out;
}

inherited_sockets::~inherited_sockets() {
  for (const auto& socket : sockets_) ::close(socket.fd);
}

inherited_sockets::inherited_sockets(inherited_sockets&& other) noexcept
    : sockets_(std::exchange(other.sockets_, {})) {}

inherited_sockets& inherited_sockets::operator=(inherited_sockets&& other) noexcept {
  if (this != &other) {
    for (const auto& socket : sockets_) ::close(socket.fd);
    sockets_ = std::exchange(other.sockets_, {});
  }
  return *this;
}

std::optional<inherited_socket> inherited_sockets::find(const std::string& service_name,
                                                        const boost::asio::ip::tcp::endpoint& accept) const {
  for (const auto& socket : sockets_)
    if (!socket.name.empty() && socket.name == service_name) return socket;
  // Exact equality on purpose: a socket on 0.0.0.0:443 also receives
  // 127.0.0.1:443 traffic, but a service configured for 127.0.0.1:443 asked
  // for less exposure than that socket has.
  for (const auto& socket : sockets_)
    if (socket.local == accept) return socket;
  return std::nullopt;
}

}  // namespace mtlsd::platform
