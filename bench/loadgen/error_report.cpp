// Owned by the benchmark helper (bench/loadgen).
#include "error_report.hpp"

#include <atomic>
#include <cstdio>

namespace mtlsd::bench {

namespace {
constexpr unsigned max_printed = 5;
std::atomic<unsigned> printed{0};
}  // namespace

void report_error(const char* stage, const std::string& reason) {
  const unsigned n = printed.fetch_add(1, std::memory_order_relaxed);
  if (n < max_printed) {
    std::fprintf(stderr, "mtlsd-loadgen: error: %s: %s\n", stage, reason.c_str());
  } else if (n == max_printed) {
    std::fprintf(stderr, "mtlsd-loadgen: further errors are counted, not printed\n");
  }
}

}  // namespace mtlsd::bench
