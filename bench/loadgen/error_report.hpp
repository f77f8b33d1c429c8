// Error reporting shared by all worker threads. Owned by the benchmark helper
// (bench/loadgen).
#pragma once

#include <string>

namespace mtlsd::bench {

// Prints the first few errors of the whole run to stderr (later ones are only
// counted by the caller): enough to see why a run fails without flooding the
// terminal at thousands of failures per second. Thread-safe.
void report_error(const char* stage, const std::string& reason);

}  // namespace mtlsd::bench
