#include "notify_listener.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "process.hpp"

namespace mtlsd::test {

notify_listener::notify_listener(std::filesystem::path path) : path_(std::move(path)) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string text = path_.string();
  if (text.size() >= sizeof addr.sun_path) throw harness_error("notify socket path too long: " + text);
  std::memcpy(addr.sun_path, text.data(), text.size());
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw harness_error(std::string("socket(AF_UNIX): ") + std::strerror(errno));
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int error = errno;
    ::close(fd_);
    throw harness_error("bind " + text + ": " + std::strerror(error));
  }
}

notify_listener::~notify_listener() {
  ::close(fd_);
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

std::optional<std::string> notify_listener::receive(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, left.count() < 0 ? 0 : static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    // systemd reads notifications into a buffer of this order too; ours are far smaller.
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) throw harness_error(std::string("recv on the notify socket: ") + std::strerror(errno));
    return std::string(buffer, static_cast<std::size_t>(n));
  }
}

std::optional<std::string> notify_field(const std::string& message, const std::string& key) {
  std::istringstream lines(message);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  }
  return std::nullopt;
}

}  // namespace mtlsd::test
