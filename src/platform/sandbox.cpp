#include <sys/prctl.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "mtlsd/platform/sandbox.hpp"
#include "sandbox_steps.hpp"

namespace mtlsd::platform {

sandbox_result apply_sandbox(const sandbox_paths& paths) {
  // Both Landlock and an unprivileged seccomp filter require it; it also
  // means no exec could ever gain privileges (setuid binaries, file caps).
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    throw std::runtime_error(std::string("sandbox: cannot set no_new_privs: ") + std::strerror(errno));
  sandbox_result result;
  std::string degraded;
  // Landlock first: its own system calls are not in the seccomp allow-list.
  result.landlock_abi = detail::apply_landlock(paths, result.paths, degraded);
  if (!degraded.empty()) result.degraded.push_back(std::move(degraded));
  degraded.clear();
  result.seccomp = detail::apply_seccomp(degraded);
  if (!degraded.empty()) result.degraded.push_back(std::move(degraded));
  return result;
}

}  // namespace mtlsd::platform
