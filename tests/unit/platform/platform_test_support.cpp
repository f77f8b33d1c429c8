#include "platform_test_support.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace mtlsd::test {

std::optional<std::string> get_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

env_guard::env_guard(std::vector<std::string> names) {
  for (auto& name : names) saved_[name] = get_env(name.c_str());
}

env_guard::~env_guard() {
  for (const auto& [name, value] : saved_) {
    if (value)
      ::setenv(name.c_str(), value->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
}

namespace {
// Far above anything a test creates, so saved descriptors never collide with slots.
constexpr int parking_floor = 200;
}  // namespace

fd_slots::fd_slots(int count) : count_(count) {
  for (int fd = 3; fd < 3 + count_; ++fd) {
    if (fd_is_open(fd)) {
      const int parked = ::fcntl(fd, F_DUPFD_CLOEXEC, parking_floor);
      if (parked < 0) throw std::runtime_error(std::string("F_DUPFD: ") + std::strerror(errno));
      ::close(fd);
      saved_.push_back(parked);
    } else {
      saved_.push_back(-1);
    }
  }
}

fd_slots::~fd_slots() {
  for (int i = 0; i < count_; ++i) {
    const int fd = 3 + i;
    const int parked = saved_[static_cast<std::size_t>(i)];
    if (parked >= 0) {
      ::dup2(parked, fd);  // also closes whatever the test left there
      ::close(parked);
    } else {
      ::close(fd);
    }
  }
}

void fd_slots::place(std::vector<int> fds) const {
  if (static_cast<int>(fds.size()) > count_) throw std::logic_error("more descriptors than slots");
  // A new descriptor may itself sit in a slot another one must go to.
  for (auto& fd : fds) {
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, parking_floor);
    if (high < 0) throw std::runtime_error(std::string("F_DUPFD: ") + std::strerror(errno));
    ::close(fd);
    fd = high;
  }
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if (::dup2(fds[i], 3 + static_cast<int>(i)) < 0)
      throw std::runtime_error(std::string("dup2: ") + std::strerror(errno));
    ::close(fds[i]);
  }
}

bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

}  // namespace mtlsd::test
