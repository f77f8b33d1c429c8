// Monotonic nanoseconds for deadlines and round-trip times. Owned by the
// benchmark helper (bench/loadgen).
#pragma once

#include <time.h>

#include <cstdint>

namespace mtlsd::bench {

// CLOCK_MONOTONIC (the steady clock) through the vDSO: no system call, so it
// is cheap enough to read around every operation.
inline std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline std::int64_t seconds_to_ns(double seconds) { return static_cast<std::int64_t>(seconds * 1e9); }

}  // namespace mtlsd::bench
