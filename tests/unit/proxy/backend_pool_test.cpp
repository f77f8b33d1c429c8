// Backend pools: how the next backend is chosen (round_robin,
// least_connections, random_two), passive health (max_fails within
// fail_window takes a member out for fail_timeout), what retries may pick,
// the all-down fallback, re-resolution keeping member state, and reloads
// keeping members whose address stays configured. Time is a fake clock.

#include "mtlsd/proxy/backend_pool.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "mtlsd/metrics/metrics.hpp"

namespace mtlsd::proxy {
namespace {

using namespace std::chrono_literals;
namespace ip = boost::asio::ip;

struct fake_clock {
  backend_clock::time_point now = backend_clock::time_point(1h);
  backend_pool::clock_fn fn() {
    return [this] { return now; };
  }
};

service_config service_with(std::vector<std::string> backends) {
  service_config s;
  s.name = "svc";
  for (const auto& text : backends) {
    std::string error;
    s.connect.push_back(*parse_endpoint(text, error));
  }
  return s;
}

std::map<std::string, int> picks(backend_pool& pool, int n) {
  std::map<std::string, int> seen;
  for (int i = 0; i < n; ++i) ++seen[pool.pick({})->text()];
  return seen;
}

const std::vector<std::string> three = {"tcp://127.0.0.1:1001", "tcp://127.0.0.1:1002", "tcp://127.0.0.1:1003"};

TEST(backend_pool, round_robin_splits_sequential_picks_exactly_evenly) {
  backend_pool pool(service_with(three));
  const auto seen = picks(pool, 300);
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& [text, count] : seen) EXPECT_EQ(count, 100) << text;
}

TEST(backend_pool, least_connections_prefers_the_member_with_fewest_active_connections) {
  auto s = service_with(three);
  s.balance = balance_mode::least_connections;
  backend_pool pool(s);
  std::vector<backend_lease> leases;
  const auto members = pool.members();
  leases.emplace_back(members[0]);
  leases.emplace_back(members[0]);
  leases.emplace_back(members[2]);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pool.pick({})->text(), "127.0.0.1:1002");
  leases.emplace_back(members[1]);
  leases.emplace_back(members[1]);
  // 1001: 2, 1002: 2, 1003: 1.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pool.pick({})->text(), "127.0.0.1:1003");
}

TEST(backend_pool, least_connections_spreads_ties) {
  auto s = service_with(three);
  s.balance = balance_mode::least_connections;
  backend_pool pool(s);
  EXPECT_EQ(picks(pool, 30).size(), 3u);
}

TEST(backend_pool, a_lease_counts_until_released_or_destroyed) {
  backend_pool pool(service_with({"tcp://127.0.0.1:1001"}));
  const auto member = pool.members().front();
  {
    backend_lease a(member);
    backend_lease b(member);
    EXPECT_EQ(member->active(), 2);
    b.release();
    EXPECT_EQ(member->active(), 1);
    backend_lease moved(std::move(a));
    EXPECT_EQ(member->active(), 1);
  }
  EXPECT_EQ(member->active(), 0);
}

TEST(backend_pool, random_two_never_picks_the_busier_of_two) {
  auto s = service_with({"tcp://127.0.0.1:1001", "tcp://127.0.0.1:1002"});
  s.balance = balance_mode::random_two;
  backend_pool pool(s);
  backend_lease busy(pool.members()[0]);
  // With two members both are always compared: the idle one wins every time.
  for (int i = 0; i < 200; ++i) EXPECT_EQ(pool.pick({})->text(), "127.0.0.1:1002");
}

TEST(backend_pool, random_two_spreads_load_and_avoids_the_busiest_member) {
  auto s = service_with({"tcp://127.0.0.1:1001", "tcp://127.0.0.1:1002", "tcp://127.0.0.1:1003",
                         "tcp://127.0.0.1:1004"});
  s.balance = balance_mode::random_two;
  backend_pool pool(s);
  std::vector<backend_lease> leases;
  for (int i = 0; i < 5; ++i) leases.emplace_back(pool.members()[3]);
  const auto seen = picks(pool, 4000);
  // The busiest member only loses; each other member wins its comparisons
  // against it and ties between idle ones go to a random one of the two.
  EXPECT_EQ(seen.count("127.0.0.1:1004"), 0u);
  for (const char* idle : {"127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"}) {
    ASSERT_TRUE(seen.contains(idle)) << idle;
    EXPECT_GT(seen.at(idle), 1000) << idle;
    EXPECT_LT(seen.at(idle), 1700) << idle;
  }
}

TEST(backend_pool, max_fails_within_fail_window_takes_a_member_out_for_fail_timeout) {
  fake_clock clock;
  auto s = service_with(three);
  s.max_fails = 2;
  s.fail_window = 10s;
  s.fail_timeout = 30s;
  backend_pool pool(s, clock.fn());
  auto bad = pool.members()[1];
  pool.report_failure(*bad, "refused");
  EXPECT_FALSE(bad->down());
  EXPECT_EQ(picks(pool, 30).size(), 3u);
  clock.now += 5s;
  pool.report_failure(*bad, "refused");
  EXPECT_TRUE(bad->down());
  EXPECT_EQ(bad->metrics().up.value(), 0);
  EXPECT_EQ(bad->metrics().connect_failures.value(), 2u);
  const auto while_down = picks(pool, 30);
  EXPECT_EQ(while_down.count("127.0.0.1:1002"), 0u);
  EXPECT_EQ(while_down.at("127.0.0.1:1001"), 15);
  EXPECT_EQ(while_down.at("127.0.0.1:1003"), 15);
  clock.now += 30s;  // fail_timeout over: eligible again, up once a connect succeeds
  EXPECT_EQ(picks(pool, 30).size(), 3u);
  pool.report_success(*bad);
  EXPECT_FALSE(bad->down());
  EXPECT_EQ(bad->metrics().up.value(), 1);
}

TEST(backend_pool, failures_older_than_fail_window_do_not_count) {
  fake_clock clock;
  auto s = service_with(three);
  s.max_fails = 2;
  s.fail_window = 10s;
  backend_pool pool(s, clock.fn());
  auto bad = pool.members()[0];
  pool.report_failure(*bad, "refused");
  clock.now += 11s;
  pool.report_failure(*bad, "refused");
  EXPECT_FALSE(bad->down());
  clock.now += 1s;
  pool.report_failure(*bad, "refused");
  EXPECT_TRUE(bad->down());
}

TEST(backend_pool, a_member_that_fails_again_after_fail_timeout_is_out_again_at_once) {
  fake_clock clock;
  auto s = service_with(three);
  s.max_fails = 3;
  s.fail_timeout = 10s;
  backend_pool pool(s, clock.fn());
  auto bad = pool.members()[0];
  for (int i = 0; i < 3; ++i) pool.report_failure(*bad, "refused");
  ASSERT_TRUE(bad->down());
  clock.now += 10s;
  EXPECT_TRUE(bad->available(clock.now));
  pool.report_failure(*bad, "refused");
  EXPECT_FALSE(bad->available(clock.now));
  clock.now += 9s;
  EXPECT_FALSE(bad->available(clock.now));
}

TEST(backend_pool, retries_skip_tried_and_down_members) {
  fake_clock clock;
  backend_pool pool(service_with(three), clock.fn());
  const auto members = pool.members();
  pool.report_failure(*members[2], "refused");  // max_fails = 1
  for (int i = 0; i < 10; ++i) {
    const auto first = pool.pick({});
    ASSERT_NE(first, members[2]);
    const auto second = pool.pick({first.get()});
    ASSERT_NE(second, members[2]);
    ASSERT_NE(second, first);
    // Only the down member is left: tried anyway rather than giving up.
    EXPECT_EQ(pool.pick({first.get(), second.get()}), members[2]);
    EXPECT_EQ(pool.pick({first.get(), second.get(), members[2].get()}), nullptr);
  }
  EXPECT_EQ(pool.attempts_allowed(), 3u);
}

TEST(backend_pool, when_all_are_down_the_least_recently_failed_is_tried) {
  fake_clock clock;
  backend_pool pool(service_with(three), clock.fn());
  const auto members = pool.members();
  pool.report_failure(*members[1], "refused");
  clock.now += 1s;
  pool.report_failure(*members[0], "refused");
  clock.now += 1s;
  pool.report_failure(*members[2], "refused");
  EXPECT_EQ(pool.pick({}), members[1]);
  clock.now += 1s;
  pool.report_failure(*members[1], "refused");  // still down; now the most recent failure
  EXPECT_EQ(pool.pick({}), members[0]);
  pool.report_success(*members[0]);
  EXPECT_FALSE(members[0]->down());
  EXPECT_EQ(pool.pick({}), members[0]);
}

TEST(backend_pool, connect_retries_bounds_the_attempts) {
  auto s = service_with(three);
  s.connect_retries = 0;
  EXPECT_EQ(backend_pool(s).attempts_allowed(), 1u);
  s.connect_retries = 1;
  EXPECT_EQ(backend_pool(s).attempts_allowed(), 2u);
  s.connect_retries = 10;
  EXPECT_EQ(backend_pool(s).attempts_allowed(), 3u);
}

TEST(backend_pool, a_failed_health_check_keeps_a_member_out_until_one_passes) {
  fake_clock clock;
  backend_pool pool(service_with(three), clock.fn());
  auto member = pool.members()[0];
  pool.report_check(*member, false, "refused");
  EXPECT_TRUE(member->down());
  clock.now += 24h;
  EXPECT_FALSE(member->available(clock.now));
  pool.report_check(*member, true, "");
  EXPECT_FALSE(member->down());
  EXPECT_TRUE(member->available(clock.now));
  EXPECT_EQ(member->metrics().up.value(), 1);
}

TEST(backend_pool, every_address_of_a_host_name_is_a_member_and_state_survives_re_resolution) {
  fake_clock clock;
  backend_pool pool(service_with({"tcp://backend.test:8080", "tcp://127.0.0.1:9000"}), clock.fn());
  ASSERT_EQ(pool.unresolved().size(), 1u);
  EXPECT_EQ(pool.members().size(), 1u);
  const ip::tcp::endpoint a(ip::make_address("10.0.0.1"), 8080), b(ip::make_address("10.0.0.2"), 8080),
      c(ip::make_address("::1"), 8080);
  pool.learn("backend.test", 8080, {a, b});
  EXPECT_TRUE(pool.unresolved().empty());
  ASSERT_EQ(pool.members().size(), 3u);
  EXPECT_EQ(pool.members()[0]->text(), "backend.test(10.0.0.1:8080)");
  EXPECT_EQ(pool.members()[1]->text(), "backend.test(10.0.0.2:8080)");
  EXPECT_EQ(pool.attempts_allowed(), 3u);
  auto kept = pool.members()[1];
  pool.report_failure(*kept, "refused");
  // DNS changed: 10.0.0.1 gone, ::1 new, 10.0.0.2 keeps its state.
  pool.learn("backend.test", 8080, {b, c});
  const auto members = pool.members();
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0], kept);
  EXPECT_TRUE(members[0]->down());
  EXPECT_EQ(members[1]->text(), "backend.test([::1]:8080)");
  // A failed lookup (or an empty answer) keeps the last good addresses.
  pool.resolve_failed("backend.test", 8080, "Host not found");
  pool.learn("backend.test", 8080, {});
  EXPECT_EQ(pool.members().size(), 3u);
}

TEST(backend_pool, a_reload_keeps_members_whose_address_stays_and_applies_new_settings) {
  fake_clock clock;
  backend_pool pool(service_with(three), clock.fn());
  auto kept = pool.members()[1];
  backend_lease lease(kept);
  auto next = service_with({"tcp://127.0.0.1:1002", "tcp://127.0.0.1:1009"});
  next.balance = balance_mode::least_connections;
  pool.reconfigure(next);
  const auto members = pool.members();
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0], kept);
  EXPECT_EQ(members[0]->active(), 1);
  EXPECT_EQ(members[1]->text(), "127.0.0.1:1009");
  EXPECT_EQ(pool.settings().balance, balance_mode::least_connections);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(pool.pick({})->text(), "127.0.0.1:1009");
}

TEST(backend_pool, members_report_into_the_registry_under_service_and_backend) {
  metrics::registry registry;
  backend_pool pool(service_with({"tcp://127.0.0.1:1001"}));
  pool.set_metrics_source([&](const std::string& backend) { return registry.backend("svc", backend); });
  const auto member = pool.members().front();
  pool.report_success(*member);
  {
    backend_lease lease(member);
    const auto listed = registry.backends();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].service, "svc");
    EXPECT_EQ(listed[0].backend, "127.0.0.1:1001");
    EXPECT_EQ(listed[0].metrics->active.value(), 1);
    EXPECT_EQ(listed[0].metrics->connections.value(), 1u);
    EXPECT_EQ(listed[0].metrics->up.value(), 1);
  }
  pool.learn("unused", 1, {});  // a no-op for unknown names
  EXPECT_EQ(registry.backends().size(), 1u);
}

}  // namespace
}  // namespace mtlsd::proxy
