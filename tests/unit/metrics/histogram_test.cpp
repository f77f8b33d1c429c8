#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>

#include "mtlsd/metrics/metrics.hpp"

namespace mtlsd::metrics {
namespace {

using namespace std::chrono_literals;

std::chrono::nanoseconds bound(std::size_t i) {
  return std::chrono::round<std::chrono::nanoseconds>(std::chrono::duration<double>(histogram::bounds[i]));
}

TEST(histogram, value_exactly_at_a_bound_counts_in_that_bucket) {
  for (std::size_t i = 0; i < histogram::bounds.size(); ++i) {
    histogram h;
    h.observe(bound(i));
    const auto s = h.read();
    EXPECT_EQ(s.cumulative[i], 1u) << "le=" << histogram::bounds[i];
    if (i > 0) {
      EXPECT_EQ(s.cumulative[i - 1], 0u) << "le=" << histogram::bounds[i - 1];
    }
  }
}

TEST(histogram, one_nanosecond_above_a_bound_counts_in_the_next) {
  for (std::size_t i = 0; i + 1 < histogram::bounds.size(); ++i) {
    histogram h;
    h.observe(bound(i) + 1ns);
    const auto s = h.read();
    EXPECT_EQ(s.cumulative[i], 0u) << "le=" << histogram::bounds[i];
    EXPECT_EQ(s.cumulative[i + 1], 1u) << "le=" << histogram::bounds[i + 1];
  }
}

TEST(histogram, literal_bounds_match_the_durations_callers_measure) {
  histogram h;
  h.observe(500us);   // 0.0005
  h.observe(2500ms);  // 2.5
  h.observe(10s);     // 10, the last bound
  const auto s = h.read();
  EXPECT_EQ(s.cumulative[0], 1u);
  EXPECT_EQ(s.cumulative[10], 1u);  // le=1
  EXPECT_EQ(s.cumulative[11], 2u);  // le=2.5
  EXPECT_EQ(s.cumulative[13], 3u);  // le=10
  EXPECT_EQ(s.count, 3u);
}

TEST(histogram, above_every_bound_counts_only_in_inf) {
  histogram h;
  h.observe(10s + 1ns);
  h.observe(1h);
  const auto s = h.read();
  for (auto c : s.cumulative) EXPECT_EQ(c, 0u);
  EXPECT_EQ(s.count, 2u);
  EXPECT_DOUBLE_EQ(s.sum_seconds, 3610.000000001);
}

TEST(histogram, cumulative_counts_are_monotone_and_inf_equals_count) {
  histogram h;
  const std::chrono::nanoseconds samples[] = {0ns, 100us, 700us, 1ms, 3ms, 30ms, 30ms, 400ms, 2s, 7s, 11s, 60s};
  for (auto d : samples) h.observe(d);
  const auto s = h.read();
  for (std::size_t i = 1; i < s.cumulative.size(); ++i) EXPECT_LE(s.cumulative[i - 1], s.cumulative[i]);
  EXPECT_EQ(s.count, std::size(samples));
  EXPECT_EQ(s.cumulative.back(), std::size(samples) - 2);  // 11 s and 60 s are above 10 s
  EXPECT_EQ(s.cumulative[0], 2u);                             // 0 and 100 us
  EXPECT_EQ(s.cumulative[1], 4u);                             // + 700 us, 1 ms
  EXPECT_EQ(s.cumulative[6], 7u);                             // le=0.05: + 3 ms, 30 ms, 30 ms
}

TEST(histogram, sum_is_the_total_in_seconds) {
  histogram h;
  h.observe(1500ms);
  h.observe(250us);
  h.observe(3ns);
  EXPECT_DOUBLE_EQ(h.read().sum_seconds, 1.500250003);
}

TEST(histogram, negative_duration_counts_as_zero) {
  histogram h;
  h.observe(-5ms);
  const auto s = h.read();
  EXPECT_EQ(s.cumulative[0], 1u);
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.sum_seconds, 0.0);
}

TEST(histogram, empty_reads_all_zero) {
  const histogram h;
  const auto s = h.read();
  for (auto c : s.cumulative) EXPECT_EQ(c, 0u);
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.sum_seconds, 0.0);
}

}  // namespace
}  // namespace mtlsd::metrics
