// The keys of a service with several backends: balance, passive health
// (max_fails, fail_window, fail_timeout), connect_retries, active health
// checks (health_check_interval) and re-resolution (resolve_interval). None
// is TLS-only; each may come from [defaults].
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* plain_service = R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = ["tcp://127.0.0.1:2", "tcp://127.0.0.1:3"]
)";

TEST_F(config_dir_test, balancing_keys_have_their_defaults) {
  const load_result r = load(plain_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const auto& s = r.cfg.services[0];
  EXPECT_EQ(s.connect.size(), 2u);
  EXPECT_EQ(s.balance, balance_mode::round_robin);
  EXPECT_EQ(s.max_fails, 1u);
  EXPECT_EQ(s.fail_window, duration(10s));
  EXPECT_EQ(s.fail_timeout, duration(10s));
  EXPECT_EQ(s.connect_retries, 2u);
  EXPECT_FALSE(s.health_check_interval.has_value());
  EXPECT_EQ(s.resolve_interval, duration(30s));
}

TEST_F(config_dir_test, balancing_keys_are_read_from_the_service) {
  const load_result r = load(std::string(plain_service) + R"(balance = "least_connections"
max_fails = 3
fail_window = "2s"
fail_timeout = "300ms"
connect_retries = 0
health_check_interval = "1s"
resolve_interval = "5m"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const auto& s = r.cfg.services[0];
  EXPECT_EQ(s.balance, balance_mode::least_connections);
  EXPECT_EQ(s.max_fails, 3u);
  EXPECT_EQ(s.fail_window, duration(2s));
  EXPECT_EQ(s.fail_timeout, duration(300ms));
  EXPECT_EQ(s.connect_retries, 0u);
  ASSERT_TRUE(s.health_check_interval.has_value());
  EXPECT_EQ(*s.health_check_interval, duration(1s));
  EXPECT_EQ(s.resolve_interval, duration(5min));
}

TEST_F(config_dir_test, balancing_keys_are_inherited_from_defaults_and_the_service_wins) {
  const load_result r = load(std::string("[defaults]\nbalance = \"random_two\"\nmax_fails = 4\n"
                                         "health_check_interval = \"10s\"\n") +
                             plain_service + "max_fails = 2\n");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const auto& s = r.cfg.services[0];
  EXPECT_EQ(s.balance, balance_mode::random_two);
  EXPECT_EQ(s.max_fails, 2u);
  ASSERT_TRUE(s.health_check_interval.has_value());
  EXPECT_EQ(*s.health_check_interval, duration(10s));
}

TEST_F(config_dir_test, bad_balancing_values_are_errors_at_their_key) {
  const std::pair<const char*, const char*> cases[] = {
      {"balance = \"fastest\"\n", "service[a].balance"},
      {"balance = 1\n", "service[a].balance"},
      {"max_fails = 0\n", "service[a].max_fails"},
      {"fail_window = \"0s\"\n", "service[a].fail_window"},
      {"fail_timeout = \"soon\"\n", "service[a].fail_timeout"},
      {"connect_retries = -1\n", "service[a].connect_retries"},
      {"health_check_interval = \"0ms\"\n", "service[a].health_check_interval"},
      {"resolve_interval = 30\n", "service[a].resolve_interval"},
  };
  for (const auto& [line, key] : cases) {
    const load_result r = load(std::string(plain_service) + line);
    ASSERT_EQ(r.errors.size(), 1u) << line << describe(r.errors);
    EXPECT_EQ(r.errors[0].key, key) << line;
    EXPECT_EQ(r.errors[0].where.line, 5) << line;  // load() drops the leading newline
  }
}

}  // namespace
}  // namespace mtlsd::test
