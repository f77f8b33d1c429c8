#include "mtlsd/platform/core_dumps.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <algorithm>

namespace mtlsd::platform {

namespace {

// The limit the process started with, restored when core dumps are allowed.
rlim_t initial_core_limit() {
  static const rlim_t initial = [] {
    rlimit limit{};
    return ::getrlimit(RLIMIT_CORE, &limit) == 0 ? limit.rlim_cur : RLIM_INFINITY;
  }();
  return initial;
}

}  // namespace

void set_core_dumps(bool allowed) {
  const rlim_t initial = initial_core_limit();
  rlimit limit{};
  if (::getrlimit(RLIMIT_CORE, &limit) == 0) {
    limit.rlim_cur = allowed ? std::min(initial, limit.rlim_max) : 0;
    ::setrlimit(RLIMIT_CORE, &limit);
  }
  ::prctl(PR_SET_DUMPABLE, allowed ? 1 : 0, 0, 0, 0);
}

}  // namespace mtlsd::platform
