#include "mtlsd/platform/service_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

#include "mtlsd/log/logging.hpp"
#include "platform/environment.hpp"

namespace mtlsd::platform {

using detail::parse_decimal;
using detail::take_env;

namespace {

// STATUS= is one line of the datagram: a newline inside it would start a new
// "KEY=value" assignment, so text from anywhere (a config path, an error
// message) could otherwise set READY=1 or MAINPID=. NUL is replaced too,
// because the manager rejects datagrams that contain one.
void append_status(std::string& message, std::string_view status) {
  message += "STATUS=";
  for (const char c : status) message += (c == '\n' || c == '\r' || c == '\0') ? ' ' : c;
}

std::string with_status(std::string message, std::string_view status) {
  if (!status.empty()) {
    message += '\n';
    append_status(message, status);
  }
  return message;
}

void warn_disabled(const std::string& socket, const std::string& why) {
  log::warn(log::record("service_notify_disabled").add("notify_socket", socket).add("error", why));
}

}  // namespace

service_notify service_notify::from_environment() {
  const std::string socket = take_env("NOTIFY_SOCKET").value_or("");
  const std::string watchdog_usec = take_env("WATCHDOG_USEC").value_or("");
  const std::string watchdog_pid = take_env("WATCHDOG_PID").value_or("");

  service_notify out;
  if (socket.empty()) return out;
  // Only the two AF_UNIX forms; systemd also knows "vsock:" for VMs, which a
  // proxy daemon has no use for.
  if (socket.front() != '/' && socket.front() != '@') {
    warn_disabled(socket, "not an absolute path or @abstract name");
    return out;
  }
  if (socket.size() < 2 || socket.size() > sizeof(sockaddr_un::sun_path) - 1) {
    warn_disabled(socket, "socket name length out of range");
    return out;
  }

  out.address_ = socket;
  if (out.address_.front() == '@') out.address_.front() = '\0';
  out.fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (out.fd_ < 0) {
    warn_disabled(socket, std::strerror(errno));
    out.address_.clear();
    return out;
  }
  // The manager drains its queue quickly; if it is stuck, a keep-alive sent
  // from a worker thread must not stall that worker for long.
  const timeval send_timeout{2, 0};
  ::setsockopt(out.fd_, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);

  // Keep-alives can only reach the manager through the socket, so the watchdog
  // counts as on only when notifications work.
  std::uint64_t usec = 0;
  if (parse_decimal(watchdog_usec, usec) && usec > 0) {
    pid_t pid = 0;
    // $WATCHDOG_PID set for another process (we were started by a wrapper
    // that did not clear it): the keep-alives are that process's job.
    const bool ours = watchdog_pid.empty() || (parse_decimal(watchdog_pid, pid) && pid == ::getpid());
    if (ours) out.watchdog_ = std::chrono::microseconds(usec);
  }
  return out;
}

service_notify::~service_notify() {
  if (fd_ >= 0) ::close(fd_);
}

service_notify::service_notify(service_notify&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      address_(std::move(other.address_)),
      watchdog_(std::exchange(other.watchdog_, std::nullopt)) {}

service_notify& service_notify::operator=(service_notify&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    address_ = std::move(other.address_);
    watchdog_ = std::exchange(other.watchdog_, std::nullopt);
  }
  return *this;
}

bool service_notify::send(std::string_view message) const {
  if (fd_ < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, address_.data(), address_.size());
  // An abstract name is exactly its bytes (no terminator counts); a path is
  // NUL-terminated by the zeroed sockaddr.
  const bool abstract = address_.front() == '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() + (abstract ? 0 : 1));
  // MSG_NOSIGNAL: a manager that went away must not kill us with SIGPIPE.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const ssize_t sent = ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL,
                                  reinterpret_cast<const sockaddr*>(&addr), length);
    if (sent >= 0) return static_cast<std::size_t>(sent) == message.size();
    if (errno != EINTR) return false;
  }
  return false;
}

bool service_notify::ready(std::string_view status) const { return send(with_status("READY=1", status)); }

bool service_notify::reloading(std::string_view status) const {
  // Type=notify-reload (sd_notify(3)): the timestamp lets the manager tell a
  // RELOADING=1 for the reload it just requested from a stale earlier one.
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec =
      static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
  return send(with_status("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec), status));
}

bool service_notify::stopping(std::string_view status) const { return send(with_status("STOPPING=1", status)); }

bool service_notify::status(std::string_view status) const {
  std::string message;
  append_status(message, status);
  return send(message);
}

bool service_notify::watchdog() const { return send("WATCHDOG=1"); }

}  // namespace mtlsd::platform
