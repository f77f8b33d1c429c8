// Connection limits: max_connections per service and across services. A slot
// is held for exactly as long as the connection lives, whatever path ends it.

#include "mtlsd/proxy/limits.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

namespace mtlsd::proxy {
namespace {

TEST(connection_counter, admits_up_to_max_then_refuses) {
  connection_counter counter(2);
  EXPECT_TRUE(counter.try_acquire());
  EXPECT_TRUE(counter.try_acquire());
  EXPECT_FALSE(counter.try_acquire());
  EXPECT_EQ(counter.active(), 2u);
  counter.release();
  EXPECT_EQ(counter.active(), 1u);
  EXPECT_TRUE(counter.try_acquire());
  EXPECT_EQ(counter.max(), 2u);
}

TEST(connection_counter, zero_means_unlimited) {
  connection_counter counter(0);
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(counter.try_acquire()) << i;
  EXPECT_EQ(counter.active(), 100000u);
}

TEST(try_admit, takes_a_slot_in_both_counters) {
  connection_counter global(10), service(5);
  limit_scope refused_by = limit_scope::global;
  connection_slot slot = try_admit(global, service, refused_by);
  EXPECT_EQ(refused_by, limit_scope::none);
  EXPECT_EQ(global.active(), 1u);
  EXPECT_EQ(service.active(), 1u);
}

TEST(try_admit, global_full_refuses_without_touching_the_service_counter) {
  connection_counter global(1), service(5);
  limit_scope refused_by = limit_scope::none;
  connection_slot first = try_admit(global, service, refused_by);
  ASSERT_EQ(refused_by, limit_scope::none);
  connection_slot second = try_admit(global, service, refused_by);
  EXPECT_EQ(refused_by, limit_scope::global);
  EXPECT_EQ(global.active(), 1u);
  EXPECT_EQ(service.active(), 1u);
}

TEST(try_admit, service_full_refuses_and_gives_the_global_slot_back) {
  connection_counter global(10), service(1);
  connection_counter other_service(1);
  limit_scope refused_by = limit_scope::none;
  connection_slot first = try_admit(global, service, refused_by);
  ASSERT_EQ(refused_by, limit_scope::none);
  connection_slot second = try_admit(global, service, refused_by);
  EXPECT_EQ(refused_by, limit_scope::service);
  EXPECT_EQ(global.active(), 1u);
  EXPECT_EQ(service.active(), 1u);
  // One service being full does not hold back another.
  connection_slot third = try_admit(global, other_service, refused_by);
  EXPECT_EQ(refused_by, limit_scope::none);
  EXPECT_EQ(global.active(), 2u);
}

TEST(try_admit, refusal_after_success_resets_refused_by) {
  connection_counter global(10), service(1);
  limit_scope refused_by = limit_scope::none;
  {
    connection_slot first = try_admit(global, service, refused_by);
    connection_slot second = try_admit(global, service, refused_by);
    ASSERT_EQ(refused_by, limit_scope::service);
  }
  connection_slot again = try_admit(global, service, refused_by);
  EXPECT_EQ(refused_by, limit_scope::none);
}

TEST(connection_slot, destruction_releases_both_counters) {
  connection_counter global(1), service(1);
  limit_scope refused_by = limit_scope::none;
  {
    connection_slot slot = try_admit(global, service, refused_by);
    ASSERT_EQ(global.active(), 1u);
  }
  EXPECT_EQ(global.active(), 0u);
  EXPECT_EQ(service.active(), 0u);
  connection_slot next = try_admit(global, service, refused_by);
  EXPECT_EQ(refused_by, limit_scope::none);
}

TEST(connection_slot, move_transfers_the_hold_without_releasing) {
  connection_counter global(1), service(1);
  limit_scope refused_by = limit_scope::none;
  connection_slot original = try_admit(global, service, refused_by);
  {
    connection_slot moved(std::move(original));
    EXPECT_EQ(global.active(), 1u);
    EXPECT_EQ(service.active(), 1u);
    // The moved-from slot holds nothing: resetting it must not release.
    original.reset();
    EXPECT_EQ(global.active(), 1u);
    EXPECT_EQ(service.active(), 1u);
  }
  EXPECT_EQ(global.active(), 0u);
  EXPECT_EQ(service.active(), 0u);
}

TEST(connection_slot, move_assignment_releases_the_slot_it_replaces) {
  connection_counter global(2), service_a(1), service_b(1);
  limit_scope refused_by = limit_scope::none;
  connection_slot a = try_admit(global, service_a, refused_by);
  connection_slot b = try_admit(global, service_b, refused_by);
  ASSERT_EQ(global.active(), 2u);
  a = std::move(b);
  EXPECT_EQ(global.active(), 1u);
  EXPECT_EQ(service_a.active(), 0u);
  EXPECT_EQ(service_b.active(), 1u);
  a.reset();
  EXPECT_EQ(global.active(), 0u);
  EXPECT_EQ(service_b.active(), 0u);
  a.reset();  // idempotent
  EXPECT_EQ(global.active(), 0u);
}

TEST(connection_slot, self_move_assignment_keeps_the_hold) {
  connection_counter global(1), service(1);
  limit_scope refused_by = limit_scope::none;
  connection_slot slot = try_admit(global, service, refused_by);
  connection_slot& alias = slot;
  slot = std::move(alias);
  EXPECT_EQ(global.active(), 1u);
  slot.reset();
  EXPECT_EQ(global.active(), 0u);
}

TEST(connection_slot, unlimited_service_still_counts) {
  connection_counter global(0), service(0);
  limit_scope refused_by = limit_scope::none;
  std::vector<connection_slot> slots;
  for (int i = 0; i < 1000; ++i) slots.push_back(try_admit(global, service, refused_by));
  EXPECT_EQ(refused_by, limit_scope::none);
  EXPECT_EQ(global.active(), 1000u);
  slots.clear();
  EXPECT_EQ(global.active(), 0u);
  EXPECT_EQ(service.active(), 0u);
}

TEST(connection_slot, two_threads_admitting_and_releasing_stay_within_the_limits) {
  connection_counter global(3), service(2);
  std::atomic<std::size_t> admitted{0}, refused{0}, over_limit{0};
  const auto worker = [&] {
    for (int i = 0; i < 200000; ++i) {
      limit_scope refused_by = limit_scope::none;
      connection_slot slot = try_admit(global, service, refused_by);
      if (refused_by != limit_scope::none) {
        refused.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      admitted.fetch_add(1, std::memory_order_relaxed);
      if (global.active() > global.max() || service.active() > service.max())
        over_limit.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  EXPECT_EQ(over_limit.load(), 0u);
  EXPECT_EQ(admitted.load() + refused.load(), 400000u);
  EXPECT_GT(admitted.load(), 0u);
  EXPECT_EQ(global.active(), 0u);
  EXPECT_EQ(service.active(), 0u);
}

TEST(connection_counter, two_threads_contending_for_one_slot_never_both_hold_it) {
  connection_counter counter(1);
  std::atomic<int> holders{0}, max_holders{0};
  const auto worker = [&] {
    for (int i = 0; i < 200000; ++i) {
      if (!counter.try_acquire()) continue;
      const int now = holders.fetch_add(1) + 1;
      int seen = max_holders.load();
      while (now > seen && !max_holders.compare_exchange_weak(seen, now)) {
      }
      holders.fetch_sub(1);
      counter.release();
    }
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  EXPECT_EQ(max_holders.load(), 1);
  EXPECT_EQ(counter.active(), 0u);
}

}  // namespace
}  // namespace mtlsd::proxy
