#include "mtlsd/platform/pid_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace mtlsd::platform {

namespace {

std::runtime_error error(const std::filesystem::path& path, const std::string& message) {
  return std::runtime_error("pid file " + path.string() + ": " + message);
}

bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

pid_file::pid_file(std::filesystem::path path) {
  const pid_t pid = ::getpid();
  // Readers (`mtlsd reload`, init scripts) must never see an empty or half
  // written file: write a private temporary, then rename over the real one.
  std::filesystem::path temporary = path;
  temporary += ".tmp-" + std::to_string(pid);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw error(path, "cannot create " + temporary.string() + ": " + std::strerror(errno));
  const bool written = write_all(fd, std::to_string(pid) + "\n");
  const int write_errno = errno;
  if (::close(fd) != 0 || !written) {
    const int saved = written ? errno : write_errno;
    ::unlink(temporary.c_str());
    throw error(path, std::string("cannot write: ") + std::strerror(saved));
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temporary.c_str());
    throw error(path, std::string("cannot rename ") + temporary.string() + " into place: " + std::strerror(saved));
  }
  path_ = std::move(path);
}

pid_file::~pid_file() {
  if (path_.empty()) return;
  // Only while it is still ours: a second instance started meanwhile (or an
  // operator) may have written its own PID there, and removing that would
  // leave the running daemon without a PID file.
  try {
    if (read_pid_file(path_) == ::getpid()) ::unlink(path_.c_str());
  } catch (...) {  // gone or unreadable: nothing of ours to remove
  }
}

pid_file::pid_file(pid_file&& other) noexcept : path_(std::exchange(other.path_, {})) {}

pid_file& pid_file::operator=(pid_file&& other) noexcept {
  if (this != &other) {
    pid_file discarded(std::move(*this));
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

pid_t read_pid_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw error(path, std::string("cannot open: ") + std::strerror(errno));
  // A PID is at most 7 digits on Linux (pid_max <= 2^22); anything much
  // longer is not a PID file.
  char buffer[64];
  std::size_t size = 0;
  while (size < sizeof buffer) {
    const ssize_t n = ::read(fd, buffer + size, sizeof buffer - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      throw error(path, std::string("cannot read: ") + std::strerror(saved));
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  ::close(fd);

  std::string_view text(buffer, size);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  pid_t pid = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (text.empty() || size == sizeof buffer || ec != std::errc() || end != text.data() + text.size() || pid <= 0)
    throw error(path, "does not hold a process id");
  return pid;
}

}  // namespace mtlsd::platform
