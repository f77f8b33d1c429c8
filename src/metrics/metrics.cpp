// Owned by the metrics module: histogram arithmetic and the per-service registry.
#include "mtlsd/metrics/metrics.hpp"

#include <cstddef>

namespace mtlsd::metrics {

namespace {

// Bounds in whole nanoseconds, so that a duration exactly at a bound lands in
// that bucket (Prometheus buckets are "less than or equal") without relying on
// how a nanosecond count divides into a double.
constexpr std::array<std::int64_t, histogram::bounds.size()> bound_nanoseconds = [] {
  std::array<std::int64_t, histogram::bounds.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::int64_t>(histogram::bounds[i] * 1e9 + 0.5);
  }
  return out;
}();

}  // namespace

void histogram::observe(std::chrono::nanoseconds elapsed) noexcept {
  // A steady clock never runs backwards, but a caller mixing clocks could hand
  // us a negative span; count it as zero rather than wrap the unsigned sum.
  const std::int64_t ns = elapsed.count() < 0 ? 0 : static_cast<std::int64_t>(elapsed.count());
  std::size_t slot = bound_nanoseconds.size();
  for (std::size_t i = 0; i < bound_nanoseconds.size(); ++i) {
    if (ns <= bound_nanoseconds[i]) {
      slot = i;
      break;
    }
  }
  buckets_[slot].fetch_add(1, std::memory_order_relaxed);
  sum_nanoseconds_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const noexcept {
  // Each bucket is loaded once and the running total derived from those loads,
  // so the result is monotone and +Inf equals count even while observations
  // race with the read; only the sum may be a hair ahead or behind.
  snapshot out;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out.cumulative[i] = running;
  }
  out.count = running + buckets_[bounds.size()].load(std::memory_order_relaxed);
  out.sum_seconds = static_cast<double>(sum_nanoseconds_.load(std::memory_order_relaxed)) / 1e9;
  return out;
}

std::shared_ptr<service_metrics> registry::service(const std::string& name) {
  const std::lock_guard lock(mutex_);
  auto& slot = services_[name];
  if (!slot) slot = std::make_shared<service_metrics>();
  return slot;
}

std::vector<std::pair<std::string, std::shared_ptr<const service_metrics>>> registry::services() const {
  const std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::shared_ptr<const service_metrics>>> out;
  out.reserve(services_.size());
  for (const auto& [name, metrics] : services_) out.emplace_back(name, metrics);
  return out;
}

std::shared_ptr<backend_metrics> registry::backend(const std::string& service, const std::string& backend) {
  const std::lock_guard lock(mutex_);
  auto& slot = backends_[{service, backend}];
  auto existing = slot.lock();
  if (existing) return existing;
  // Forget members that went away meanwhile; this runs only when a backend
  // address appears, never per connection.
  std::erase_if(backends_, [](const auto& entry) { return entry.second.expired(); });
  existing = std::make_shared<backend_metrics>();
  existing->up.set(1);
  backends_[{service, backend}] = existing;
  return existing;
}

std::vector<registry::backend_entry> registry::backends() const {
  const std::lock_guard lock(mutex_);
  std::vector<backend_entry> out;
  for (const auto& [key, weak] : backends_)
    if (auto live = weak.lock()) out.push_back({key.first, key.second, std::move(live)});
  return out;
}

}  // namespace mtlsd::metrics
