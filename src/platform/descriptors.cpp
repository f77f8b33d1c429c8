#include "mtlsd/platform/descriptors.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <boost/asio/error.hpp>

namespace mtlsd::platform {

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == boost::asio::error::no_descriptors || ec.value() == ENFILE;
}

descriptor_reserve::descriptor_reserve() { restore(); }

descriptor_reserve::~descriptor_reserve() { release(); }

void descriptor_reserve::release() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
}

bool descriptor_reserve::restore() {
  if (fd_ < 0) fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd_ >= 0;
}

std::optional<std::uint64_t> descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

std::optional<std::size_t> open_descriptor_count() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return std::nullopt;
  std::size_t n = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  // Without the directory's own descriptor.
  return n > 0 ? n - 1 : 0;
}

bool descriptors_available(int fd, int count) {
  int copies[8];
  int made = 0;
  bool ok = true;
  while (made < count && made < 8) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      ok = false;
      break;
    }
    copies[made++] = copy;
  }
  while (made > 0) ::close(copies[--made]);
  return ok;
}

std::size_t shed_queued_connections(int listening_fd, std::size_t max) {
  std::size_t shed = 0;
  while (shed < max) {
    // The listening socket's blocking mode is Asio's business: ask first, so
    // accept() can never block the worker.
    pollfd p{listening_fd, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1 || (p.revents & POLLIN) == 0) break;
    const int fd = ::accept4(listening_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break;
    }
    ::close(fd);
    ++shed;
  }
  return shed;
}

}  // namespace mtlsd::platform
