#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "mtlsd/metrics/metrics.hpp"

namespace mtlsd::metrics {
namespace {

TEST(registry, same_name_returns_the_same_object) {
  registry r;
  auto first = r.service("api");
  first->accepted.add(5);
  auto again = r.service("api");
  EXPECT_EQ(first.get(), again.get());
  EXPECT_EQ(again->accepted.value(), 5u);
}

TEST(registry, different_names_get_separate_counters) {
  registry r;
  r.service("a")->accepted.add(1);
  r.service("b")->accepted.add(2);
  EXPECT_NE(r.service("a").get(), r.service("b").get());
  EXPECT_EQ(r.service("a")->accepted.value(), 1u);
  EXPECT_EQ(r.service("b")->accepted.value(), 2u);
}

TEST(registry, services_lists_every_registered_service_sorted_by_name) {
  registry r;
  auto zeta = r.service("zeta");
  r.service("alpha");
  r.service("mid");
  zeta->handshakes_ok.add(9);
  const auto all = r.services();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].first, "alpha");
  EXPECT_EQ(all[1].first, "mid");
  EXPECT_EQ(all[2].first, "zeta");
  EXPECT_EQ(all[2].second.get(), zeta.get());
  EXPECT_EQ(all[2].second->handshakes_ok.value(), 9u);
}

TEST(registry, a_service_outlives_its_last_user) {
  // A reload drops the old generation's pointers; the counters must survive.
  registry r;
  r.service("api")->bytes_client_to_backend.add(42);
  EXPECT_EQ(r.service("api")->bytes_client_to_backend.value(), 42u);
}

TEST(registry, concurrent_lookups_of_one_name_share_one_object_and_lose_no_counts) {
  registry r;
  constexpr int per_thread = 20000;
  std::vector<std::thread> threads;
  std::vector<const service_metrics*> seen(4);
  for (std::size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&r, &seen, t] {
      auto m = r.service("api");
      seen[t] = m.get();
      for (int i = 0; i < per_thread; ++i) {
        m->accepted.add();
        m->handshake_duration.observe(std::chrono::microseconds(i % 3000));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto* p : seen) EXPECT_EQ(p, seen[0]);
  const auto m = r.service("api");
  EXPECT_EQ(m->accepted.value(), seen.size() * per_thread);
  EXPECT_EQ(m->handshake_duration.read().count, seen.size() * per_thread);
}

TEST(gauge, add_sub_set) {
  gauge g;
  g.add(3);
  g.sub();
  EXPECT_EQ(g.value(), 2);
  g.sub(5);
  EXPECT_EQ(g.value(), -3);
  g.set(11);
  EXPECT_EQ(g.value(), 11);
}

}  // namespace
}  // namespace mtlsd::metrics
