// The service manager notification protocol (sd_notify(3)): what systemd
// receives decides whether a Type=notify unit ever becomes active, whether a
// reload completes and whether the watchdog restarts us.

#include "mtlsd/platform/service_notify.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "platform_test_support.hpp"

namespace mtlsd::platform {
namespace {

using test::env_guard;
using test::get_env;

// The manager's end: a datagram socket bound to a path or an abstract name.
class receiver {
 public:
  // `name` is a path, or "@name" for the abstract namespace (as in $NOTIFY_SOCKET).
  explicit receiver(const std::string& name) : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) throw std::runtime_error(std::strerror(errno));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (name.front() == '@')
      addr.sun_path[0] = '\0';
    else
      length += 1;
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), length) != 0)
      throw std::runtime_error("bind " + name + ": " + std::strerror(errno));
  }
  ~receiver() { ::close(fd_); }
  receiver(const receiver&) = delete;
  receiver& operator=(const receiver&) = delete;

  // sendto on an AF_UNIX datagram socket has queued the datagram by the time
  // it returns, so there is nothing to wait for: empty means nothing was sent.
  std::optional<std::string> take() const {
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(n));
  }

 private:
  int fd_;
};

const std::vector<std::string> notify_vars{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"};

std::string abstract_name() {
  static int counter = 0;
  return "@mtlsd-test-notify-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

std::uint64_t monotonic_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
}

TEST(service_notify, sends_each_message_as_one_datagram_to_a_path_socket) {
  env_guard env(notify_vars);
  test::temp_dir dir;
  const std::string path = (dir.path() / "notify").string();
  receiver manager(path);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);

  const service_notify notify = service_notify::from_environment();
  ASSERT_TRUE(notify.enabled());
  EXPECT_TRUE(notify.ready("serving 2 services"));
  EXPECT_EQ(manager.take(), "READY=1\nSTATUS=serving 2 services");
  EXPECT_TRUE(notify.stopping("draining 5 connections"));
  EXPECT_EQ(manager.take(), "STOPPING=1\nSTATUS=draining 5 connections");
  EXPECT_TRUE(notify.status("serving"));
  EXPECT_EQ(manager.take(), "STATUS=serving");
  EXPECT_TRUE(notify.watchdog());
  EXPECT_EQ(manager.take(), "WATCHDOG=1");
  EXPECT_TRUE(notify.send("EXTEND_TIMEOUT_USEC=5000000"));
  EXPECT_EQ(manager.take(), "EXTEND_TIMEOUT_USEC=5000000");
  EXPECT_EQ(manager.take(), std::nullopt);
}

TEST(service_notify, sends_to_an_abstract_socket) {
  env_guard env(notify_vars);
  const std::string name = abstract_name();
  receiver manager(name);
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);

  const service_notify notify = service_notify::from_environment();
  ASSERT_TRUE(notify.enabled());
  EXPECT_TRUE(notify.ready("up"));
  EXPECT_EQ(manager.take(), "READY=1\nSTATUS=up");
}

TEST(service_notify, empty_status_sends_no_status_line) {
  env_guard env(notify_vars);
  const std::string name = abstract_name();
  receiver manager(name);
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);

  const service_notify notify = service_notify::from_environment();
  EXPECT_TRUE(notify.ready(""));
  EXPECT_EQ(manager.take(), "READY=1");
}

TEST(service_notify, reloading_carries_the_monotonic_clock) {
  env_guard env(notify_vars);
  const std::string name = abstract_name();
  receiver manager(name);
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);

  const service_notify notify = service_notify::from_environment();
  const std::uint64_t before = monotonic_usec();
  EXPECT_TRUE(notify.reloading("reloading configuration"));
  const std::uint64_t after = monotonic_usec();

  const auto message = manager.take();
  ASSERT_TRUE(message);
  const std::string head = "RELOADING=1\nMONOTONIC_USEC=";
  const std::string tail = "\nSTATUS=reloading configuration";
  ASSERT_EQ(message->substr(0, head.size()), head) << *message;
  ASSERT_GT(message->size(), head.size() + tail.size()) << *message;
  ASSERT_EQ(message->substr(message->size() - tail.size()), tail) << *message;
  const std::string number = message->substr(head.size(), message->size() - head.size() - tail.size());
  std::uint64_t usec = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), usec);
  ASSERT_TRUE(ec == std::errc() && end == number.data() + number.size()) << number;
  EXPECT_GE(usec, before);
  EXPECT_LE(usec, after);
}

TEST(service_notify, status_text_cannot_add_assignments) {
  env_guard env(notify_vars);
  const std::string name = abstract_name();
  receiver manager(name);
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);

  const service_notify notify = service_notify::from_environment();
  EXPECT_TRUE(notify.status("bad config\nREADY=1\r\nMAINPID=1"));
  EXPECT_EQ(manager.take(), "STATUS=bad config READY=1  MAINPID=1");
  EXPECT_TRUE(notify.stopping(std::string_view("a\0b\nc", 5)));
  EXPECT_EQ(manager.take(), "STOPPING=1\nSTATUS=a b c");
}

TEST(service_notify, removes_the_variables_from_the_environment) {
  env_guard env(notify_vars);
  const std::string name = abstract_name();
  receiver manager(name);
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);

  const service_notify notify = service_notify::from_environment();
  EXPECT_TRUE(notify.enabled());
  EXPECT_EQ(get_env("NOTIFY_SOCKET"), std::nullopt);
  EXPECT_EQ(get_env("WATCHDOG_USEC"), std::nullopt);
  EXPECT_EQ(get_env("WATCHDOG_PID"), std::nullopt);
}

TEST(service_notify, disabled_without_notify_socket) {
  env_guard env(notify_vars);
  ::unsetenv("NOTIFY_SOCKET");
  ::setenv("WATCHDOG_USEC", "30000000", 1);

  const service_notify notify = service_notify::from_environment();
  EXPECT_FALSE(notify.enabled());
  EXPECT_FALSE(notify.ready("up"));
  EXPECT_FALSE(notify.reloading("x"));
  EXPECT_FALSE(notify.stopping("x"));
  EXPECT_FALSE(notify.status("x"));
  EXPECT_FALSE(notify.watchdog());
  // Nobody could receive keep-alives, so there is no watchdog to feed.
  EXPECT_EQ(notify.watchdog_timeout(), std::nullopt);
  EXPECT_EQ(get_env("WATCHDOG_USEC"), std::nullopt);

  const service_notify default_constructed;
  EXPECT_FALSE(default_constructed.enabled());
  EXPECT_FALSE(default_constructed.send("READY=1"));
}

TEST(service_notify, unusable_notify_socket_disables_it) {
  env_guard env(notify_vars);
  const std::vector<std::string> values{"relative/path", "vsock:2:1234", "@", "/" + std::string(200, 'x')};
  for (const auto& value : values) {
    ::setenv("NOTIFY_SOCKET", value.c_str(), 1);
    const service_notify notify = service_notify::from_environment();
    EXPECT_FALSE(notify.enabled()) << value;
    EXPECT_FALSE(notify.ready("up")) << value;
    EXPECT_EQ(get_env("NOTIFY_SOCKET"), std::nullopt) << value;
  }
}

TEST(service_notify, send_fails_when_nobody_listens) {
  env_guard env(notify_vars);
  test::temp_dir dir;
  const std::string path = (dir.path() / "gone").string();
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);

  const service_notify notify = service_notify::from_environment();
  ASSERT_TRUE(notify.enabled());
  EXPECT_FALSE(notify.ready("up"));
}

TEST(service_notify, watchdog_timeout_from_watchdog_usec) {
  env_guard env(notify_vars);
  const std::string name = abstract_name();
  receiver manager(name);

  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "20000000", 1);
  ::unsetenv("WATCHDOG_PID");
  EXPECT_EQ(service_notify::from_environment().watchdog_timeout(), std::chrono::microseconds(20'000'000));

  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "1500", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  EXPECT_EQ(service_notify::from_environment().watchdog_timeout(), std::chrono::microseconds(1500));

  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(service_notify::from_environment().watchdog_timeout(), std::nullopt);
}

TEST(service_notify, watchdog_for_another_process_is_not_ours) {
  env_guard env(notify_vars);
  const std::string name = abstract_name();
  receiver manager(name);
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "20000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);

  const service_notify notify = service_notify::from_environment();
  EXPECT_TRUE(notify.enabled());
  EXPECT_EQ(notify.watchdog_timeout(), std::nullopt);
  EXPECT_EQ(get_env("WATCHDOG_PID"), std::nullopt);
}

TEST(service_notify, malformed_watchdog_usec_means_no_watchdog) {
  env_guard env(notify_vars);
  const std::string name = abstract_name();
  receiver manager(name);
  for (const char* value : {"", "0", "-5", "12s", "abc", "99999999999999999999999"}) {
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
    ::setenv("WATCHDOG_USEC", value, 1);
    EXPECT_EQ(service_notify::from_environment().watchdog_timeout(), std::nullopt) << value;
  }
}

TEST(service_notify, moved_object_keeps_sending) {
  env_guard env(notify_vars);
  const std::string name = abstract_name();
  receiver manager(name);
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "1000000", 1);

  service_notify first = service_notify::from_environment();
  service_notify second(std::move(first));
  EXPECT_FALSE(first.enabled());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(first.watchdog_timeout(), std::nullopt);
  EXPECT_TRUE(second.watchdog());
  EXPECT_EQ(manager.take(), "WATCHDOG=1");

  service_notify third;
  third = std::move(second);
  EXPECT_EQ(third.watchdog_timeout(), std::chrono::microseconds(1'000'000));
  EXPECT_TRUE(third.watchdog());
  EXPECT_EQ(manager.take(), "WATCHDOG=1");
}

}  // namespace
}  // namespace mtlsd::platform
