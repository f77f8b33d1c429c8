// Running out of descriptors: the reserve gives back exactly one slot, the
// availability probe tells one free descriptor from two, and shedding closes
// every queued connection without ever blocking. The descriptor limit is
// process-wide, so the tests that lower it put it back on the way out.

#include "mtlsd/platform/descriptors.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/error.hpp>
#include <cerrno>
#include <vector>

namespace mtlsd::platform {
namespace {

struct fd_closer {
  std::vector<int> fds;
  ~fd_closer() {
    for (int fd : fds) ::close(fd);
  }
};

// Lowers the soft RLIMIT_NOFILE to the descriptors open now plus `spare`,
// and restores it when destroyed.
class tight_limit {
 public:
  explicit tight_limit(std::size_t spare) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    // Descriptor numbers, not counts, are limited: the highest open one decides.
    int highest = 0;
    for (int fd = 0; fd < 4096; ++fd)
      if (::fcntl(fd, F_GETFD) != -1) highest = fd;
    rlimit tight = saved_;
    tight.rlim_cur = static_cast<rlim_t>(highest + 1);
    ::setrlimit(RLIMIT_NOFILE, &tight);
    // Fill every gap below the limit, then free `spare` of them.
    for (;;) {
      const int fd = ::dup(0);
      if (fd < 0) break;
      filler_.fds.push_back(fd);
    }
    for (std::size_t i = 0; i < spare && !filler_.fds.empty(); ++i) {
      ::close(filler_.fds.back());
      filler_.fds.pop_back();
    }
  }
  ~tight_limit() {
    for (int fd : filler_.fds) ::close(fd);
    filler_.fds.clear();
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }

 private:
  rlimit saved_{};
  fd_closer filler_;
};

int listening_socket(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::listen(fd, 16);
  socklen_t len = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len);
  port = ntohs(address.sin_port);
  return fd;
}

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool closed_by_peer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1) return false;
  char byte;
  return ::recv(fd, &byte, 1, 0) <= 0;
}

TEST(descriptors, emfile_and_enfile_are_exhaustion_other_errors_are_not) {
  EXPECT_TRUE(out_of_descriptors(boost::asio::error::no_descriptors));
  EXPECT_TRUE(out_of_descriptors(boost::system::error_code(ENFILE, boost::system::system_category())));
  EXPECT_FALSE(out_of_descriptors(boost::asio::error::connection_aborted));
  EXPECT_FALSE(out_of_descriptors(boost::asio::error::no_memory));
}

TEST(descriptors, the_reserve_frees_exactly_one_slot_when_none_is_left) {
  descriptor_reserve reserve;
  ASSERT_TRUE(reserve.held());
  tight_limit limit(0);
  EXPECT_FALSE(descriptors_available(0, 1));
  reserve.release();
  EXPECT_FALSE(reserve.held());
  EXPECT_TRUE(descriptors_available(0, 1));
  EXPECT_FALSE(descriptors_available(0, 2)) << "one slot, not two";
  EXPECT_TRUE(reserve.restore());
  EXPECT_FALSE(descriptors_available(0, 1));
}

TEST(descriptors, open_count_and_limit_describe_this_process) {
  const auto limit = descriptor_limit();
  ASSERT_TRUE(limit.has_value());
  const auto before = open_descriptor_count();
  ASSERT_TRUE(before.has_value());
  fd_closer extra{{::dup(0), ::dup(0)}};
  EXPECT_EQ(open_descriptor_count(), *before + 2);
  EXPECT_LE(*before + 2, *limit);
}

TEST(descriptors, shedding_closes_every_queued_connection_and_never_blocks) {
  std::uint16_t port = 0;
  fd_closer listener{{listening_socket(port)}};
  fd_closer clients;
  for (int i = 0; i < 3; ++i) clients.fds.push_back(connect_to(port));
  for (int fd : clients.fds) ASSERT_GE(fd, 0);

  EXPECT_EQ(shed_queued_connections(listener.fds[0], 4096), 3u);
  for (int fd : clients.fds) EXPECT_TRUE(closed_by_peer(fd)) << "a shed client must hear at once";
  // Nothing queued: returns at once instead of waiting for a connection.
  EXPECT_EQ(shed_queued_connections(listener.fds[0], 4096), 0u);
}

TEST(descriptors, shedding_stops_at_its_bound) {
  std::uint16_t port = 0;
  fd_closer listener{{listening_socket(port)}};
  fd_closer clients;
  for (int i = 0; i < 3; ++i) clients.fds.push_back(connect_to(port));
  EXPECT_EQ(shed_queued_connections(listener.fds[0], 2), 2u);
  EXPECT_EQ(shed_queued_connections(listener.fds[0], 2), 1u);
}

TEST(descriptors, with_the_reserve_released_a_queued_connection_is_shed_at_the_limit) {
  std::uint16_t port = 0;
  fd_closer listener{{listening_socket(port)}};
  fd_closer clients{{connect_to(port)}};
  ASSERT_GE(clients.fds[0], 0);
  descriptor_reserve reserve;
  tight_limit limit(0);
  EXPECT_EQ(shed_queued_connections(listener.fds[0], 4096), 0u) << "no slot: accept fails, nothing blocks";
  reserve.release();
  EXPECT_EQ(shed_queued_connections(listener.fds[0], 4096), 1u);
  reserve.restore();
  EXPECT_TRUE(closed_by_peer(clients.fds[0]));
}

}  // namespace
}  // namespace mtlsd::platform
