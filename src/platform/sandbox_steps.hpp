#pragma once
// Owner: platform module (private). The two confinement steps behind
// apply_sandbox(): each reports an unsupported kernel or container through
// `degraded` (and returns "not applied"), and throws on anything else.

#include <cstddef>
#include <string>

#include "mtlsd/platform/sandbox.hpp"

namespace mtlsd::platform::detail {

// Landlock on the calling thread; the ABI version applied (0: none) and the
// number of rules added.
int apply_landlock(const sandbox_paths& paths, std::size_t& rules, std::string& degraded);

// The seccomp filter on every thread of the process.
bool apply_seccomp(std::string& degraded);

}  // namespace mtlsd::platform::detail
