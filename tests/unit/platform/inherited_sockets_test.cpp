// Socket activation (sd_listen_fds(3)): which inherited socket a service gets
// decides what address it actually serves on, so the matching rules and the
// refusal of unusable descriptors are what an operator relies on.

#include "mtlsd/platform/inherited_sockets.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "platform_test_support.hpp"

namespace mtlsd::platform {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using test::env_guard;
using test::fd_is_open;
using test::fd_slots;
using test::get_env;

const std::vector<std::string> listen_vars{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"};

struct test_socket {
  int fd = -1;
  tcp::endpoint local;
};

tcp::endpoint bound_endpoint(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0)
    throw std::runtime_error(std::strerror(errno));
  tcp::endpoint out;
  std::memcpy(out.data(), &storage, length);
  out.resize(length);
  return out;
}

// A TCP socket bound to `address` (port 0: the kernel picks), listening unless told otherwise.
test_socket tcp_socket(const std::string& address, bool listening = true, unsigned short port = 0) {
  const tcp::endpoint wanted(asio::ip::make_address(address), port);
  const int fd = ::socket(wanted.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::strerror(errno));
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd, wanted.data(), static_cast<socklen_t>(wanted.size())) != 0)
    throw std::runtime_error("bind " + address + ": " + std::strerror(errno));
  if (listening && ::listen(fd, 16) != 0) throw std::runtime_error(std::strerror(errno));
  return {fd, bound_endpoint(fd)};
}

void set_listen_env(int count, const char* names) {
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", std::to_string(count).c_str(), 1);
  if (names != nullptr)
    ::setenv("LISTEN_FDNAMES", names, 1);
  else
    ::unsetenv("LISTEN_FDNAMES");
}

bool close_on_exec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

// The message of the std::runtime_error from_environment() throws ("" when none).
std::string from_environment_error() {
  try {
    inherited_sockets sockets = inherited_sockets::from_environment();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(inherited_sockets, nothing_without_listen_fds) {
  env_guard env(listen_vars);
  for (const auto& name : listen_vars) ::unsetenv(name.c_str());
  EXPECT_TRUE(inherited_sockets::from_environment().empty());
}

TEST(inherited_sockets, sockets_for_another_process_are_left_alone) {
  env_guard env(listen_vars);
  fd_slots slots(1);
  slots.place({tcp_socket("127.0.0.1").fd});
  set_listen_env(1, "web");
  ::setenv("LISTEN_PID", std::to_string(::getpid() + 1).c_str(), 1);

  {
    const inherited_sockets sockets = inherited_sockets::from_environment();
    EXPECT_TRUE(sockets.empty());
  }
  EXPECT_TRUE(fd_is_open(3));
  EXPECT_FALSE(close_on_exec(3));
  // Still removed: whoever we start next must not take them either.
  EXPECT_EQ(get_env("LISTEN_PID"), std::nullopt);
  EXPECT_EQ(get_env("LISTEN_FDS"), std::nullopt);
  EXPECT_EQ(get_env("LISTEN_FDNAMES"), std::nullopt);
}

TEST(inherited_sockets, takes_named_sockets_from_descriptor_3_on) {
  env_guard env(listen_vars);
  fd_slots slots(2);
  const test_socket v4 = tcp_socket("127.0.0.1");
  const test_socket v6 = tcp_socket("::1");
  slots.place({v4.fd, v6.fd});
  ASSERT_FALSE(close_on_exec(3));
  set_listen_env(2, "alpha:beta");

  {
    const inherited_sockets sockets = inherited_sockets::from_environment();
    ASSERT_EQ(sockets.all().size(), 2u);
    EXPECT_EQ(sockets.all()[0].fd, 3);
    EXPECT_EQ(sockets.all()[0].name, "alpha");
    EXPECT_EQ(sockets.all()[0].local, v4.local);
    EXPECT_EQ(sockets.all()[1].fd, 4);
    EXPECT_EQ(sockets.all()[1].name, "beta");
    EXPECT_EQ(sockets.all()[1].local, v6.local);
    EXPECT_TRUE(close_on_exec(3));
    EXPECT_TRUE(close_on_exec(4));
    EXPECT_EQ(get_env("LISTEN_PID"), std::nullopt);
    EXPECT_EQ(get_env("LISTEN_FDS"), std::nullopt);
    EXPECT_EQ(get_env("LISTEN_FDNAMES"), std::nullopt);
  }
  // They belonged to the object.
  EXPECT_FALSE(fd_is_open(3));
  EXPECT_FALSE(fd_is_open(4));
}

TEST(inherited_sockets, find_by_service_name_first_then_by_exact_address) {
  env_guard env(listen_vars);
  fd_slots slots(2);
  const test_socket first = tcp_socket("127.0.0.1");
  const test_socket second = tcp_socket("127.0.0.1");
  slots.place({first.fd, second.fd});
  set_listen_env(2, "partner-api:internal");
  const inherited_sockets sockets = inherited_sockets::from_environment();

  // The name wins even when the address points at the other socket.
  const auto by_name = sockets.find("partner-api", second.local);
  ASSERT_TRUE(by_name);
  EXPECT_EQ(by_name->fd, 3);
  EXPECT_EQ(by_name->name, "partner-api");

  const auto by_address = sockets.find("billing", second.local);
  ASSERT_TRUE(by_address);
  EXPECT_EQ(by_address->fd, 4);
  EXPECT_EQ(by_address->local, second.local);

  // Same address, other port; same port, other address: bind it ourselves.
  EXPECT_EQ(sockets.find("billing", tcp::endpoint(first.local.address(), 1)), std::nullopt);
  EXPECT_EQ(sockets.find("billing", tcp::endpoint(asio::ip::make_address("127.0.0.2"), first.local.port())),
            std::nullopt);
  EXPECT_EQ(sockets.find("billing", tcp::endpoint(asio::ip::make_address("::1"), first.local.port())), std::nullopt);
}

TEST(inherited_sockets, wildcard_socket_matches_only_the_wildcard_address) {
  env_guard env(listen_vars);
  fd_slots slots(1);
  const test_socket any = tcp_socket("0.0.0.0");
  slots.place({any.fd});
  set_listen_env(1, "https");
  const inherited_sockets sockets = inherited_sockets::from_environment();

  const unsigned short port = any.local.port();
  const auto wildcard = sockets.find("api", tcp::endpoint(asio::ip::make_address("0.0.0.0"), port));
  ASSERT_TRUE(wildcard);
  EXPECT_EQ(wildcard->fd, 3);
  // 127.0.0.1 traffic does reach that socket, but the service asked for
  // loopback only and must not silently be served on every interface.
  EXPECT_EQ(sockets.find("api", tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)), std::nullopt);
}

TEST(inherited_sockets, without_names_only_the_address_matches) {
  env_guard env(listen_vars);
  fd_slots slots(1);
  const test_socket socket = tcp_socket("127.0.0.1");
  slots.place({socket.fd});
  set_listen_env(1, nullptr);
  const inherited_sockets sockets = inherited_sockets::from_environment();

  ASSERT_EQ(sockets.all().size(), 1u);
  EXPECT_EQ(sockets.all()[0].name, "");
  EXPECT_EQ(sockets.find("", tcp::endpoint(socket.local.address(), 1)), std::nullopt);
  const auto found = sockets.find("api", socket.local);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->fd, 3);
}

TEST(inherited_sockets, refuses_a_socket_that_is_not_listening) {
  env_guard env(listen_vars);
  fd_slots slots(1);
  slots.place({tcp_socket("127.0.0.1", false).fd});
  set_listen_env(1, "web");

  const std::string error = from_environment_error();
  EXPECT_NE(error.find("fd 3"), std::string::npos) << error;
  EXPECT_NE(error.find("\"web\""), std::string::npos) << error;
  EXPECT_NE(error.find("not a listening socket"), std::string::npos) << error;
  // All passed descriptors are the daemon's; none leaks on the error path.
  EXPECT_FALSE(fd_is_open(3));
  EXPECT_EQ(get_env("LISTEN_FDS"), std::nullopt);
}

TEST(inherited_sockets, refuses_a_datagram_socket) {
  env_guard env(listen_vars);
  fd_slots slots(1);
  slots.place({::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)});
  set_listen_env(1, "dns");

  const std::string error = from_environment_error();
  EXPECT_NE(error.find("fd 3 (\"dns\")"), std::string::npos) << error;
  EXPECT_NE(error.find("not a stream socket"), std::string::npos) << error;
}

TEST(inherited_sockets, refuses_a_unix_socket) {
  env_guard env(listen_vars);
  fd_slots slots(1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string name = "mtlsd-test-inherited-" + std::to_string(::getpid());
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // abstract: nothing to clean up
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())),
            0);
  ASSERT_EQ(::listen(fd, 4), 0);
  slots.place({fd});
  set_listen_env(1, "local");

  const std::string error = from_environment_error();
  EXPECT_NE(error.find("fd 3"), std::string::npos) << error;
  EXPECT_NE(error.find("not an IPv4 or IPv6 socket"), std::string::npos) << error;
}

TEST(inherited_sockets, refuses_a_descriptor_that_is_no_socket) {
  env_guard env(listen_vars);
  fd_slots slots(2);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  ::close(pipe_fds[1]);
  // The first one is fine; the error names the second and closes both.
  slots.place({tcp_socket("127.0.0.1").fd, pipe_fds[0]});
  set_listen_env(2, "good:bad");

  const std::string error = from_environment_error();
  EXPECT_NE(error.find("fd 4 (\"bad\")"), std::string::npos) << error;
  EXPECT_NE(error.find("not a socket"), std::string::npos) << error;
  EXPECT_FALSE(fd_is_open(3));
  EXPECT_FALSE(fd_is_open(4));
}

TEST(inherited_sockets, refuses_a_name_count_that_does_not_match) {
  env_guard env(listen_vars);
  fd_slots slots(2);
  slots.place({tcp_socket("127.0.0.1").fd, tcp_socket("127.0.0.1").fd});
  set_listen_env(2, "only-one");

  const std::string error = from_environment_error();
  EXPECT_NE(error.find("LISTEN_FDNAMES"), std::string::npos) << error;
  EXPECT_FALSE(fd_is_open(3));
  EXPECT_FALSE(fd_is_open(4));
}

TEST(inherited_sockets, refuses_a_malformed_count) {
  env_guard env(listen_vars);
  for (const char* value : {"", "two", "-1", "1x", "100000"}) {
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    ::setenv("LISTEN_FDS", value, 1);
    const std::string error = from_environment_error();
    EXPECT_NE(error.find("LISTEN_FDS"), std::string::npos) << value << ": " << error;
    EXPECT_EQ(get_env("LISTEN_FDS"), std::nullopt);
  }
}

TEST(inherited_sockets, ownership_moves_with_the_object) {
  env_guard env(listen_vars);
  fd_slots slots(1);
  slots.place({tcp_socket("127.0.0.1").fd});
  set_listen_env(1, "web");

  inherited_sockets target;
  {
    inherited_sockets source = inherited_sockets::from_environment();
    inherited_sockets middle(std::move(source));
    target = std::move(middle);
  }
  EXPECT_TRUE(fd_is_open(3));
  ASSERT_EQ(target.all().size(), 1u);
  EXPECT_EQ(target.all()[0].fd, 3);
  target = inherited_sockets();
  EXPECT_FALSE(fd_is_open(3));
}

// ---- mtlsd-socket-activate and from_environment() together, across a real exec ----

#ifdef MTLSD_SOCKET_ACTIVATE_BINARY

constexpr const char* child_marker = "MTLSD_TEST_ACTIVATED_CHILD_READY_FILE";

// Runs in this test binary exec'd by mtlsd-socket-activate (before gtest
// starts): checks what it inherited against the tool's ready file and reports
// through the exit status.
int check_activated_child(const char* ready_file) {
  const auto fail = [](const std::string& what) {
    std::fprintf(stderr, "activated child: %s\n", what.c_str());
    return 1;
  };
  try {
    const inherited_sockets sockets = inherited_sockets::from_environment();
    std::ifstream in(ready_file);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    if (lines.size() != 2 || sockets.all().size() != 2)
      return fail("expected 2 sockets and 2 ready lines, got " + std::to_string(sockets.all().size()) + " and " +
                  std::to_string(lines.size()));
    const auto text = [](const tcp::endpoint& e) {
      return e.address().is_v6() ? "[" + e.address().to_string() + "]:" + std::to_string(e.port())
                                 : e.address().to_string() + ":" + std::to_string(e.port());
    };
    const auto& a = sockets.all()[0];
    const auto& b = sockets.all()[1];
    if (a.fd != 3 || a.name != "alpha" || text(a.local) != lines[0])
      return fail("first socket: fd " + std::to_string(a.fd) + " " + a.name + " " + text(a.local) + ", ready file " +
                  lines[0]);
    if (b.fd != 4 || b.name != "beta" || text(b.local) != lines[1])
      return fail("second socket: fd " + std::to_string(b.fd) + " " + b.name + " " + text(b.local) +
                  ", ready file " + lines[1]);
    if (a.local.port() == 0 || b.local.port() == 0) return fail("port 0 was not replaced by the bound port");
    if (get_env("LISTEN_PID") || get_env("LISTEN_FDS") || get_env("LISTEN_FDNAMES"))
      return fail("LISTEN_* still set");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}

[[maybe_unused]] const bool activated_child_checked = [] {
  if (const char* ready_file = std::getenv(child_marker)) std::_Exit(check_activated_child(ready_file));
  return false;
}();

TEST(socket_activate_tool, passes_named_sockets_that_from_environment_takes) {
  test::temp_dir dir;
  const std::string ready_file = (dir.path() / "ready").string();
  char self[4096] = {};
  const ssize_t self_length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(self_length, 0);

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv(child_marker, ready_file.c_str(), 1);
    const std::vector<std::string> args{MTLSD_SOCKET_ACTIVATE_BINARY, "--listen", "127.0.0.1:0", "--name", "alpha",
                                        "--listen", "[::1]:0", "--name", "beta", "--ready-file", ready_file, "--",
                                        self};
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(126);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the activated child's message above";
  EXPECT_TRUE(std::filesystem::exists(ready_file));
}

#endif

}  // namespace
}  // namespace mtlsd::platform
