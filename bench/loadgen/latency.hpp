// Round-trip samples for latency mode. Owned by the benchmark helper
// (bench/loadgen).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mtlsd::bench {

// Fixed-capacity sample store, allocated up front so recording never
// allocates on the hot path. Past capacity it keeps a uniform random subset
// of all samples (reservoir sampling) so a long run still yields unbiased
// percentiles; the maximum is tracked exactly.
class latency_samples {
 public:
  explicit latency_samples(std::size_t capacity);
  void record(std::int64_t ns);

  std::uint64_t count() const { return seen_; }
  std::int64_t max_ns() const { return max_ns_; }
  const std::vector<std::int64_t>& kept() const { return kept_; }

 private:
  std::vector<std::int64_t> kept_;
  std::size_t capacity_;
  std::uint64_t seen_ = 0;
  std::int64_t max_ns_ = 0;
  std::uint64_t rng_state_ = 0x9E3779B97F4A7C15ULL;
};

struct latency_summary {
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
};

// Nearest-rank percentiles over the union of the per-thread samples. A
// thread's reservoir stands for more operations than it holds once full, so
// the sets are merged in proportion to the operations they represent.
latency_summary summarize(const std::vector<const latency_samples*>& parts);

}  // namespace mtlsd::bench
