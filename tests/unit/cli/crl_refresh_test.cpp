// Owner: cli module tests. The schedule of the CRL fetcher (crl_refresh.hpp):
// when a fetched CRL is refreshed, and how failures back off without ever
// letting the cached CRL run past its nextUpdate unretried.
#include "mtlsd/cli/crl_refresh.hpp"

#include <gtest/gtest.h>

namespace mtlsd::test {
namespace {

using namespace std::chrono_literals;
using cli::crl_refresh_delay;
using cli::crl_retry_delay;

constexpr std::int64_t t0 = 1'800'000'000;  // a thisUpdate
constexpr std::int64_t day = 86400;

TEST(crl_refresh_delay, halfway_between_this_update_and_next_update) {
  // Issued now, valid for 2 hours: refreshed after 1 hour.
  EXPECT_EQ(crl_refresh_delay(t0, t0, t0 + 7200, 24h), 3600s);
  // Fetched 10 minutes after issue: the same halfway point, 50 minutes away.
  EXPECT_EQ(crl_refresh_delay(t0 + 600, t0, t0 + 7200, 24h), 3000s);
}

TEST(crl_refresh_delay, never_later_than_the_refresh_interval) {
  EXPECT_EQ(crl_refresh_delay(t0, t0, t0 + 7 * day, 1h), 1h);
  EXPECT_EQ(crl_refresh_delay(t0, t0, t0 + 7 * day, 2s), 2s);
}

TEST(crl_refresh_delay, never_sooner_than_a_minute_unless_the_interval_is_shorter) {
  // Past halfway already (a CRL published late, or valid for minutes).
  EXPECT_EQ(crl_refresh_delay(t0 + 3000, t0, t0 + 3600, 1h), 60s);
  EXPECT_EQ(crl_refresh_delay(t0 + 3000, t0, t0 + 3600, 2s), 2s);
  EXPECT_EQ(crl_refresh_delay(t0 + 5000, t0, t0 + 3600, 1h), 60s);  // already stale
}

TEST(crl_refresh_delay, a_crl_without_next_update_is_refreshed_every_interval) {
  EXPECT_EQ(crl_refresh_delay(t0, t0, std::nullopt, 1h), 1h);
  // A nextUpdate not after thisUpdate gives no halfway point either.
  EXPECT_EQ(crl_refresh_delay(t0, t0, t0, 1h), 1h);
}

TEST(crl_retry_delay, starts_at_30_seconds_and_doubles_up_to_10_minutes) {
  const std::optional<std::int64_t> far = t0 + 30 * day;
  EXPECT_EQ(crl_retry_delay(1, t0, far, 24h), 30s);
  EXPECT_EQ(crl_retry_delay(2, t0, far, 24h), 60s);
  EXPECT_EQ(crl_retry_delay(3, t0, far, 24h), 120s);
  EXPECT_EQ(crl_retry_delay(5, t0, far, 24h), 480s);
  EXPECT_EQ(crl_retry_delay(6, t0, far, 24h), 600s);
  EXPECT_EQ(crl_retry_delay(1000, t0, far, 24h), 600s);
}

TEST(crl_retry_delay, never_later_than_the_interval_or_the_cached_crls_next_update) {
  EXPECT_EQ(crl_retry_delay(6, t0, t0 + 30 * day, 2s), 2s);
  EXPECT_EQ(crl_retry_delay(6, t0, t0 + 45, 24h), 45s);
  // A second before nextUpdate: retried right then.
  EXPECT_EQ(crl_retry_delay(1, t0, t0 + 1, 24h), 1s);
  // Already stale: nothing left to beat, plain backoff.
  EXPECT_EQ(crl_retry_delay(6, t0, t0, 24h), 600s);
  // No cached copy (nothing to beat): plain backoff.
  EXPECT_EQ(crl_retry_delay(2, t0, std::nullopt, 24h), 60s);
}

}  // namespace
}  // namespace mtlsd::test
