// Owned by the benchmark helper (bench/loadgen).
#include "latency.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace mtlsd::bench {

latency_samples::latency_samples(std::size_t capacity) : capacity_(capacity) { kept_.reserve(capacity); }

void latency_samples::record(std::int64_t ns) {
  ++seen_;
  max_ns_ = std::max(max_ns_, ns);
  if (kept_.size() < capacity_) {
    kept_.push_back(ns);
    return;
  }
  // xorshift64: cheap, and statistical quality is ample for choosing slots.
  rng_state_ ^= rng_state_ << 13;
  rng_state_ ^= rng_state_ >> 7;
  rng_state_ ^= rng_state_ << 17;
  const std::uint64_t slot = rng_state_ % seen_;
  if (slot < capacity_) kept_[static_cast<std::size_t>(slot)] = ns;
}

latency_summary summarize(const std::vector<const latency_samples*>& parts) {
  // (value, weight): weight = operations one kept sample stands for.
  std::vector<std::pair<std::int64_t, double>> all;
  double total_weight = 0;
  std::int64_t max_ns = 0;
  for (const latency_samples* part : parts) {
    if (part->kept().empty()) continue;
    const double weight = static_cast<double>(part->count()) / static_cast<double>(part->kept().size());
    for (std::int64_t ns : part->kept()) all.emplace_back(ns, weight);
    total_weight += weight * static_cast<double>(part->kept().size());
    max_ns = std::max(max_ns, part->max_ns());
  }
  latency_summary out;
  if (all.empty()) return out;
  std::sort(all.begin(), all.end());
  auto percentile = [&](double p) {
    const double rank = std::ceil(p * total_weight);
    double cumulative = 0;
    for (const auto& [ns, weight] : all) {
      cumulative += weight;
      if (cumulative >= rank) return static_cast<double>(ns) / 1000.0;
    }
    return static_cast<double>(all.back().first) / 1000.0;
  };
  out.p50_us = percentile(0.50);
  out.p99_us = percentile(0.99);
  out.p999_us = percentile(0.999);
  out.max_us = static_cast<double>(max_ns) / 1000.0;
  return out;
}

}  // namespace mtlsd::bench
