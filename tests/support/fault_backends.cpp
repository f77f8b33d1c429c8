#include "fault_backends.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cerrno>
#include <csignal>

#include "tls_client.hpp"

namespace mtlsd::test {
namespace {

// A loopback listener on an ephemeral port; `receive_buffer` > 0 fixes SO_RCVBUF.
int listen_loopback(int backlog, std::uint16_t& port, int receive_buffer = 0) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw harness_error("socket");
  if (receive_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw harness_error("cannot listen on a loopback port");
  }
  port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

black_hole_listener::black_hole_listener() {
  listener_ = listen_loopback(0, port_);
  queued_ = tcp_connect("127.0.0.1", port_, 2s);
  if (queued_ < 0) {
    ::close(listener_);
    throw harness_error("black hole: cannot fill the accept queue");
  }
}

black_hole_listener::~black_hole_listener() {
  ::close(queued_);
  ::close(listener_);
}

non_reading_backend::non_reading_backend(int receive_buffer, std::chrono::milliseconds lifetime) {
  listener_ = listen_loopback(64, port_, receive_buffer);
  if (::pipe2(wake_, O_CLOEXEC) != 0) {
    ::close(listener_);
    throw harness_error("pipe");
  }
  acceptor_ = std::thread([this, lifetime] { accept_loop(lifetime); });
}

non_reading_backend::~non_reading_backend() {
  const char stop = 's';
  [[maybe_unused]] const auto ignored = ::write(wake_[1], &stop, 1);
  acceptor_.join();
  for (int fd : accepted_) ::close(fd);
  ::close(listener_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void non_reading_backend::accept_loop(std::chrono::milliseconds lifetime) {
  using clock_type = std::chrono::steady_clock;
  const auto deadline = clock_type::now() + lifetime;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0) return;
    pollfd p[2] = {{listener_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    const int n = ::poll(p, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || (p[1].revents & POLLIN)) return;
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mutex_);
    accepted_.push_back(fd);
    changed_.notify_all();
  }
}

bool non_reading_backend::wait_accepted(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return accepted_.size() >= count; });
}

std::uint64_t non_reading_backend::unread(std::size_t index) const {
  std::lock_guard lock(mutex_);
  int queued = 0;
  if (index >= accepted_.size() || ::ioctl(accepted_[index], FIONREAD, &queued) != 0) return 0;
  return static_cast<std::uint64_t>(queued);
}

bool non_reading_backend::peer_closed(std::size_t index, std::chrono::milliseconds timeout) const {
  int fd = -1;
  {
    std::lock_guard lock(mutex_);
    if (index >= accepted_.size()) return false;
    fd = accepted_[index];
  }
  // The data we never read stays queued ahead of the FIN, so POLLIN says
  // nothing; POLLRDHUP (FIN) and POLLHUP/POLLERR (reset) do.
  pollfd p{fd, POLLRDHUP, 0};
  const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  return n > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

echo_process::echo_process(const std::string& binary) {
  process_ = std::make_unique<process>(std::vector<std::string>{binary, "--listen", "127.0.0.1:0"});
  const std::string line = process_->wait_for_line("listening ", 10s);
  const auto colon = line.rfind(':');
  if (colon == std::string::npos) throw harness_error("mtlsd-echo: no port in \"" + line + "\"");
  port_ = static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
}

void echo_process::kill() {
  process_->send_signal(SIGKILL);
  if (!process_->wait_exit(10s)) throw harness_error("mtlsd-echo survived SIGKILL");
}

}  // namespace mtlsd::test
