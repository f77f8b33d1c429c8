#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "sandbox_steps.hpp"

namespace mtlsd::platform::detail {

namespace {

// Debian 12's kernel headers describe ABI 2; the rights added since are
// stable kernel interface, so name them here.
constexpr std::uint64_t access_refer = 1ULL << 13;     // ABI 2
constexpr std::uint64_t access_truncate = 1ULL << 14;  // ABI 3
constexpr std::uint64_t access_ioctl_dev = 1ULL << 15;  // ABI 5

constexpr std::uint64_t read_file = LANDLOCK_ACCESS_FS_READ_FILE;
constexpr std::uint64_t read_dir = LANDLOCK_ACCESS_FS_READ_DIR;
// The only rights the kernel accepts on a rule for a file, not a directory.
constexpr std::uint64_t file_rights =
    LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | read_file | access_truncate | access_ioctl_dev;

// Every right the running kernel's ABI knows is handled, so anything not
// granted by a rule is denied; rights a newer kernel adds stay unrestricted
// until this list learns them.
std::uint64_t handled_for(int abi) {
  std::uint64_t rights = (1ULL << 13) - 1;  // ABI 1: EXECUTE .. MAKE_SYM
  if (abi >= 2) rights |= access_refer;
  if (abi >= 3) rights |= access_truncate;
  if (abi >= 5) rights |= access_ioctl_dev;
  return rights;
}

struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

// Unsupported: not built into the kernel (ENOSYS), disabled at boot
// (EOPNOTSUPP), or refused by a container's seccomp profile (EPERM).
bool unsupported(int error) { return error == ENOSYS || error == EOPNOTSUPP || error == EPERM; }

// Returns whether a rule was added; a path that does not exist on this
// system (/lib64 on some layouts, /etc/pki on Debian) is skipped.
bool allow(int ruleset, const std::filesystem::path& path, std::uint64_t rights, std::uint64_t handled) {
  const int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == EACCES) return false;
    throw std::runtime_error("sandbox: cannot open " + path.string() + ": " + std::strerror(errno));
  }
  fd_guard guard{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw std::runtime_error("sandbox: cannot stat " + path.string() + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) rights &= file_rights;
  landlock_path_beneath_attr rule{};
  rule.allowed_access = rights & handled;
  rule.parent_fd = fd;
  if (rule.allowed_access == 0) return false;
  if (::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0)
    throw std::runtime_error("sandbox: cannot allow " + path.string() + ": " + std::strerror(errno));
  return true;
}

}  // namespace

int apply_landlock(const sandbox_paths& paths, std::size_t& rules, std::string& degraded) {
  rules = 0;
  const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 0) {
    if (!unsupported(errno))
      throw std::runtime_error(std::string("sandbox: cannot query Landlock: ") + std::strerror(errno));
    degraded = std::string("landlock unavailable (") + std::strerror(errno) + ")";
    return 0;
  }
  const int version = static_cast<int>(abi);
  const std::uint64_t handled = handled_for(version);
  landlock_ruleset_attr attr{};
  attr.handled_access_fs = handled;
  const int ruleset = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0));
  if (ruleset < 0) {
    if (!unsupported(errno))
      throw std::runtime_error(std::string("sandbox: cannot create a Landlock ruleset: ") + std::strerror(errno));
    degraded = std::string("landlock unavailable (") + std::strerror(errno) + ")";
    return 0;
  }
  fd_guard guard{ruleset};

  const std::uint64_t write_dir = read_file | read_dir | LANDLOCK_ACCESS_FS_WRITE_FILE | access_truncate |
                                  LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE;
  for (const auto& p : paths.read) rules += allow(ruleset, p, read_file | read_dir, handled) ? 1 : 0;
  for (const auto& p : paths.write) rules += allow(ruleset, p, write_dir, handled) ? 1 : 0;
  // The pid file: read back (is it still ours?) and removed at exit.
  const std::uint64_t remove_dir = read_file | LANDLOCK_ACCESS_FS_REMOVE_FILE;
  for (const auto& p : paths.remove) rules += allow(ruleset, p, remove_dir, handled) ? 1 : 0;

  if (::syscall(SYS_landlock_restrict_self, ruleset, 0) != 0)
    throw std::runtime_error(std::string("sandbox: cannot apply Landlock: ") + std::strerror(errno));
  if (version < 3)
    degraded = "landlock abi " + std::to_string(version) + " (kernel older than 6.2): truncation is not restricted";
  return version;
}

}  // namespace mtlsd::platform::detail
