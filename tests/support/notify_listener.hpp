#pragma once
// The receiving end of the service manager's notification socket
// (sd_notify(3)): an AF_UNIX datagram socket the test binds and passes to
// mtlsd as $NOTIFY_SOCKET, so tests see exactly the messages systemd would.
// Owned by the operations-tests helper.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace mtlsd::test {

class notify_listener {
 public:
  // Binds a datagram socket at `path` (which must not exist yet).
  explicit notify_listener(std::filesystem::path path);
  ~notify_listener();
  notify_listener(const notify_listener&) = delete;
  notify_listener& operator=(const notify_listener&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string env() const { return "NOTIFY_SOCKET=" + path_.string(); }

  // The next datagram, or nullopt when none arrives within `timeout`.
  std::optional<std::string> receive(std::chrono::milliseconds timeout);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// The value of KEY in a notification message (one "KEY=value" per line);
// nullopt when the message does not set it.
std::optional<std::string> notify_field(const std::string& message, const std::string& key);

}  // namespace mtlsd::test
