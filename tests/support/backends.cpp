#include "backends.hpp"

#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

#include "process.hpp"

namespace mtlsd::test {
namespace {

int listen_loopback(std::uint16_t& port, bool ipv6) {
  const int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw harness_error(std::string("socket: ") + std::strerror(errno));
  // A given port is taken again after a server on it stopped (its
  // connections may still be in TIME_WAIT).
  const int reuse = 1;
  if (port != 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
  sockaddr_storage storage{};
  socklen_t len = 0;
  if (ipv6) {
    auto& addr = reinterpret_cast<sockaddr_in6&>(storage);
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_loopback;
    addr.sin6_port = htons(port);
    len = sizeof addr;
  } else {
    auto& addr = reinterpret_cast<sockaddr_in&>(storage);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    len = sizeof addr;
  }
  auto* addr = reinterpret_cast<sockaddr*>(&storage);
  if (::bind(fd, addr, len) != 0 || ::listen(fd, 128) != 0 || ::getsockname(fd, addr, &len) != 0) {
    const int e = errno;
    ::close(fd);
    throw harness_error(std::string("listen on ") + (ipv6 ? "[::1]:" : "127.0.0.1:") + std::to_string(port) + ": " +
                        std::strerror(e));
  }
  port = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6&>(storage).sin6_port
                    : reinterpret_cast<sockaddr_in&>(storage).sin_port);
  return fd;
}

void set_io_timeouts(int fd, std::chrono::milliseconds limit) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(limit.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((limit.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

backend_connection::backend_connection(int fd, std::size_t keep_bytes) : fd_(fd), keep_bytes_(keep_bytes) {}

long backend_connection::receive(char* buffer, std::size_t size) {
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer, size, 0);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mutex_);
    if (n > 0) {
      const auto got = static_cast<std::size_t>(n);
      record_.bytes_received += got;
      hasher_.update(buffer, got);
      if (record_.data.size() < keep_bytes_) {
        record_.data.append(buffer, std::min(got, keep_bytes_ - record_.data.size()));
      }
    } else if (n == 0) {
      record_.eof_received = true;
      record_.received_at_eof = record_.bytes_received;
      record_.events.emplace_back("eof");
    } else {
      record_.error = std::string("recv: ") + std::strerror(errno);
    }
    return static_cast<long>(n);
  }
}

void backend_connection::receive_to_end() {
  std::vector<char> buffer(1 << 16);
  while (receive(buffer.data(), buffer.size()) > 0) {
  }
}

bool backend_connection::send_all(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::lock_guard lock(mutex_);
      record_.error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    std::lock_guard lock(mutex_);
    record_.bytes_sent += static_cast<std::uint64_t>(n);
  }
  return true;
}

void backend_connection::send_fin() {
  ::shutdown(fd_, SHUT_WR);
  std::lock_guard lock(mutex_);
  record_.fin_sent = true;
  record_.events.emplace_back("fin");
}

void backend_connection::note(const std::string& event) {
  std::lock_guard lock(mutex_);
  record_.events.push_back(event);
}

bool backend_connection::eof_received() {
  std::lock_guard lock(mutex_);
  return record_.eof_received;
}

connection_record backend_connection::finish() {
  std::lock_guard lock(mutex_);
  record_.sha256_received = hasher_.hex();
  return record_;
}

loopback_server::loopback_server(connection_handler handler, std::chrono::milliseconds lifetime,
                                 std::size_t keep_bytes, std::uint16_t port, bool ipv6)
    : ipv6_(ipv6), handler_(std::move(handler)), lifetime_(lifetime), keep_bytes_(keep_bytes), port_(port) {
  ignore_sigpipe();
  listen_fd_ = listen_loopback(port_, ipv6_);
  if (::pipe2(wake_, O_CLOEXEC) != 0) {
    ::close(listen_fd_);
    throw harness_error(std::string("pipe2: ") + std::strerror(errno));
  }
  acceptor_ = std::thread([this] { accept_loop(); });
}

loopback_server::~loopback_server() {
  stopping_ = true;
  const char byte = 1;
  [[maybe_unused]] const auto w = ::write(wake_[1], &byte, 1);
  if (acceptor_.joinable()) acceptor_.join();
  {
    // Unblocks handlers stuck in recv/send; the fds stay open until each
    // handler's thread closes its own, so no fd number is reused under it.
    std::lock_guard lock(mutex_);
    for (auto& c : connections_) {
      if (c.fd >= 0) ::shutdown(c.fd, SHUT_RDWR);
    }
  }
  for (auto& c : connections_) {
    if (c.thread.joinable()) c.thread.join();
  }
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

std::string loopback_server::address() const {
  return (ipv6_ ? "[::1]:" : "127.0.0.1:") + std::to_string(port_);
}
std::string loopback_server::connect_url() const { return "tcp://" + address(); }

void loopback_server::accept_loop() {
  const auto deadline = std::chrono::steady_clock::now() + lifetime_;
  while (!stopping_) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0 || (fds[1].revents & POLLIN)) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    set_io_timeouts(fd, lifetime_);
    std::lock_guard lock(mutex_);
    // Counted before the connection is served: a client that got its echo
    // back must never find the count without it.
    ++accepted_;
    auto& slot = connections_.emplace_back(active{fd, {}});
    slot.thread = std::thread([this, s = &slot, fd] { serve(s, fd); });
    changed_.notify_all();
  }
}

void loopback_server::serve(active* slot, int fd) {
  backend_connection conn(fd, keep_bytes_);
  handler_(conn);
  auto record = conn.finish();
  std::lock_guard lock(mutex_);
  ::close(fd);
  slot->fd = -1;
  finished_.push_back(std::move(record));
  changed_.notify_all();
}

bool loopback_server::wait_accepted(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return accepted_.load() >= count; });
}

std::vector<connection_record> loopback_server::wait_finished(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [&] { return finished_.size() >= count; })) {
    throw harness_error("backend " + address() + ": wanted " + std::to_string(count) +
                        " finished connections, have " + std::to_string(finished_.size()) + " (accepted " +
                        std::to_string(accepted_.load()) + ")");
  }
  return finished_;
}

std::vector<connection_record> loopback_server::finished() const {
  std::lock_guard lock(mutex_);
  return finished_;
}

connection_handler echo_handler() {
  return [](backend_connection& c) {
    std::vector<char> buffer(1 << 16);
    for (;;) {
      const long n = c.receive(buffer.data(), buffer.size());
      if (n < 0) return;
      if (n == 0) break;
      if (!c.send_all(std::string_view(buffer.data(), static_cast<std::size_t>(n)))) return;
    }
    c.send_fin();
  };
}

connection_handler sink_handler(sink_options options) {
  return [options](backend_connection& c) {
    std::thread sender;
    if (!options.send.empty() || options.send_generated > 0) {
      // Concurrent with receiving: a proxy that only moves one direction at a
      // time would deadlock here once both socket buffers fill.
      sender = std::thread([&c, &options] {
        bool ok = c.send_all(options.send);
        if (ok && options.send_generated > 0) {
          payload_source source(options.send_generated, options.send_seed);
          std::vector<char> buffer(1 << 16);
          for (std::size_t n = source.next(buffer.data(), buffer.size()); ok && n > 0;
               n = source.next(buffer.data(), buffer.size())) {
            ok = c.send_all(std::string_view(buffer.data(), n));
          }
        }
        if (ok && options.fin_after_send) c.send_fin();
      });
    }
    c.receive_to_end();
    if (sender.joinable()) sender.join();
    const bool got_eof = c.eof_received();
    if (got_eof && !options.reply_after_eof.empty()) {
      if (c.send_all(options.reply_after_eof)) {
        c.note("reply");
        c.send_fin();
      }
    }
  };
}

std::uint16_t closed_port() {
  std::uint16_t port = 0;
  const int fd = listen_loopback(port, false);
  ::close(fd);
  return port;
}

}  // namespace mtlsd::test
