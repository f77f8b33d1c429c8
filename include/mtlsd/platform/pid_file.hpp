#pragma once
// [server] pid_file, for `mtlsd reload --pid-file FILE` and init scripts.
// Written atomically (temporary file + rename) once the daemon is ready,
// removed on exit when it still holds our PID. Owned by the platform module.
// Removal needs write access to the directory: after drop_privileges() that
// is the unprivileged user's (a root-only /run fails silently).

#include <filesystem>
#include <sys/types.h>

namespace mtlsd::platform {

class pid_file {
 public:
  pid_file() = default;
  // Writes our PID to `path`; throws std::runtime_error naming the path.
  explicit pid_file(std::filesystem::path path);
  ~pid_file();
  pid_file(pid_file&&) noexcept;
  pid_file& operator=(pid_file&&) noexcept;

 private:
  std::filesystem::path path_;
};

// The PID written in `path`; throws std::runtime_error naming the path when it
// cannot be read or does not hold a positive number.
pid_t read_pid_file(const std::filesystem::path& path);

}  // namespace mtlsd::platform
