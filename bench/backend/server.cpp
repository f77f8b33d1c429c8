// Owned by the benchmark helper (bench/backend).
#include "server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace mtlsd::bench {
namespace {

// Tags in epoll_event.data.u64 that are not connection fds.
constexpr std::uint64_t listener_tag = ~std::uint64_t{0};
constexpr std::uint64_t signal_tag = ~std::uint64_t{0} - 1;

// Bounds the accepts per wake-up so a connect storm cannot starve the
// connections already open (the listener is level-triggered: the rest is
// picked up on the next round).
constexpr int max_accepts_per_wake = 256;

}  // namespace

backend_server::backend_server(int listen_fd, backend_mode mode) : listen_fd_(listen_fd), mode_(mode) {}

backend_server::~backend_server() {
  for (std::size_t fd = 0; fd < connections_.size(); ++fd) {
    if (connections_[fd].open) ::close(static_cast<int>(fd));
  }
  if (signal_fd_ >= 0) ::close(signal_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  ::close(listen_fd_);
}

int backend_server::run() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  signal_fd_ = ::signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (epoll_fd_ < 0 || signal_fd_ < 0) {
    std::fprintf(stderr, "mtlsd-backend: epoll/signalfd: %s\n", std::strerror(errno));
    return 1;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = listener_tag;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.u64 = signal_tag;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, signal_fd_, &ev);

  std::array<epoll_event, 256> events{};
  for (;;) {
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "mtlsd-backend: epoll_wait: %s\n", std::strerror(errno));
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
      const unsigned what = events[static_cast<std::size_t>(i)].events;
      if (tag == signal_tag) return 0;
      if (tag == listener_tag) {
        accept_ready();
        continue;
      }
      const int fd = static_cast<int>(tag);
      if (!connections_[static_cast<std::size_t>(fd)].open) continue;  // closed earlier in this batch
      if (what & EPOLLOUT) {
        on_writable(fd);
      } else if (what & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        on_readable(fd);
      }
    }
  }
}

void backend_server::accept_ready() {
  for (int i = 0; i < max_accepts_per_wake; ++i) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        // A level-triggered listener would wake us in a busy loop; resume
        // accepting once a connection has closed and freed a descriptor.
        std::fprintf(stderr, "mtlsd-backend: accept: %s (pausing until a connection closes)\n",
                     std::strerror(errno));
        pause_listener(true);
      }
      return;  // EAGAIN, or a connection that died in the backlog
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (static_cast<std::size_t>(fd) >= connections_.size()) connections_.resize(static_cast<std::size_t>(fd) + 1024);
    connection& c = connections_[static_cast<std::size_t>(fd)];
    c.open = true;
    c.pending.clear();
    c.pending_offset = 0;
    if (!watch(fd, EPOLLIN, true)) {
      close_connection(fd);
    }
  }
}

void backend_server::on_readable(int fd) {
  // One read per wake-up: with a level-triggered loop that shares the thread
  // fairly between a bulk sender and thousands of small ones.
  const ssize_t got = ::recv(fd, buffer_.data(), buffer_.size(), 0);
  if (got == 0) {
    // Client half-close. Nothing is pending (we stop reading while anything
    // is), so everything has been echoed: closing sends our FIN after it.
    close_connection(fd);
    return;
  }
  if (got < 0) {
    if (errno != EAGAIN && errno != EINTR) close_connection(fd);
    return;
  }
  if (mode_ == backend_mode::discard) return;

  const auto size = static_cast<std::size_t>(got);
  const ssize_t sent = ::send(fd, buffer_.data(), size, MSG_NOSIGNAL);
  if (sent < 0 && errno != EAGAIN) {
    close_connection(fd);
    return;
  }
  const std::size_t done = sent < 0 ? 0 : static_cast<std::size_t>(sent);
  if (done == size) return;
  // The client reads slower than it writes: park the rest and stop reading
  // until it drains, so memory per connection stays bounded by one read.
  connection& c = connections_[static_cast<std::size_t>(fd)];
  c.pending.assign(buffer_.data() + done, buffer_.data() + size);
  c.pending_offset = 0;
  if (!watch(fd, EPOLLOUT, false)) close_connection(fd);
}

void backend_server::on_writable(int fd) {
  connection& c = connections_[static_cast<std::size_t>(fd)];
  const std::size_t left = c.pending.size() - c.pending_offset;
  const ssize_t sent = ::send(fd, c.pending.data() + c.pending_offset, left, MSG_NOSIGNAL);
  if (sent < 0) {
    if (errno != EAGAIN && errno != EINTR) close_connection(fd);
    return;
  }
  c.pending_offset += static_cast<std::size_t>(sent);
  if (c.pending_offset < c.pending.size()) return;
  c.pending.clear();
  c.pending_offset = 0;
  if (!watch(fd, EPOLLIN, false)) close_connection(fd);
}

bool backend_server::watch(int fd, unsigned events, bool add) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = static_cast<std::uint64_t>(fd);
  return ::epoll_ctl(epoll_fd_, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) == 0;
}

void backend_server::close_connection(int fd) {
  connections_[static_cast<std::size_t>(fd)].open = false;
  ::close(fd);  // also leaves the epoll set: the fd is never duplicated
  if (listener_paused_) pause_listener(false);
}

void backend_server::pause_listener(bool paused) {
  listener_paused_ = paused;
  epoll_event ev{};
  ev.events = paused ? 0U : static_cast<unsigned>(EPOLLIN);
  ev.data.u64 = listener_tag;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
}

}  // namespace mtlsd::bench
