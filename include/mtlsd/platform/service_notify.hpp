#pragma once
// Telling the service manager what the daemon is doing, with systemd's
// notification protocol (sd_notify(3)): one datagram per message, "KEY=value"
// lines, sent to the AF_UNIX socket named by $NOTIFY_SOCKET ("@name" is the
// abstract namespace). Without $NOTIFY_SOCKET every call does nothing, so
// the same binary runs under systemd, in a container or in a terminal.
//
// Created once on the main thread; send() may be called from any thread. A
// send blocks for at most a couple of seconds (a stuck manager's full queue).
// Owned by the platform module.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mtlsd::platform {

class service_notify {
 public:
  // Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, then removes them
  // from the environment so that no child process inherits them. Never throws;
  // a $NOTIFY_SOCKET it cannot use leaves it disabled, with a warning logged
  // (event service_notify_disabled).
  static service_notify from_environment();
  service_notify() = default;  // disabled
  ~service_notify();
  service_notify(service_notify&&) noexcept;
  service_notify& operator=(service_notify&&) noexcept;

  bool enabled() const { return fd_ >= 0; }
  // Sends `message` (e.g. "READY=1\nSTATUS=serving 3 services") as one datagram.
  // Returns false when it could not be sent (never throws).
  bool send(std::string_view message) const;

  // STATUS= text is one line: newlines (and NUL) become spaces. The helpers
  // below leave STATUS= out when `status` is empty.
  bool ready(std::string_view status) const;      // READY=1 + STATUS=
  bool reloading(std::string_view status) const;  // RELOADING=1 + MONOTONIC_USEC= + STATUS=
  bool stopping(std::string_view status) const;   // STOPPING=1 + STATUS=
  bool status(std::string_view status) const;     // STATUS=
  bool watchdog() const;                          // WATCHDOG=1

  // The watchdog timeout systemd expects keep-alives within ($WATCHDOG_USEC,
  // when $WATCHDOG_PID is unset or ours); nullopt when the watchdog is off or
  // notifications are disabled.
  // The daemon sends WATCHDOG=1 every half of it.
  std::optional<std::chrono::microseconds> watchdog_timeout() const { return watchdog_; }

 private:
  int fd_ = -1;
  std::string address_;  // sockaddr_un path; leading '\0' for the abstract namespace
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace mtlsd::platform
