// Descriptor exhaustion in /metrics: the connections closed for lack of a
// descriptor are a reason of mtlsd_connections_rejected_total, and the
// listeners paused right now a gauge, both per service and shown at zero.

#include <gtest/gtest.h>

#include "metrics_test_support.hpp"
#include "mtlsd/metrics/exposition.hpp"

namespace mtlsd::metrics {
namespace {

using test::value_of;

TEST(descriptor_metrics, refusals_and_paused_listeners_are_exported_per_service) {
  registry r;
  auto api = r.service("api");
  r.service("idle");
  api->refused_descriptors.add(7);
  api->accept_paused.add(2);
  const std::string text = render(r, {}, test::sample_build);
  EXPECT_EQ(value_of(text, R"(mtlsd_connections_rejected_total{service="api",reason="descriptors"})"), "7");
  EXPECT_EQ(value_of(text, R"(mtlsd_accept_paused{service="api"})"), "2");
  EXPECT_EQ(value_of(text, R"(mtlsd_connections_rejected_total{service="idle",reason="descriptors"})"), "0");
  EXPECT_EQ(value_of(text, R"(mtlsd_accept_paused{service="idle"})"), "0");
  EXPECT_NE(text.find("# TYPE mtlsd_accept_paused gauge\n"), std::string::npos);
}

}  // namespace
}  // namespace mtlsd::metrics
