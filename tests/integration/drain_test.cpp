// SIGTERM: stop accepting, let live connections finish within drain_timeout,
// then exit 0.

#include <csignal>
#include <thread>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::uint64_t mib = 1024 * 1024;

TEST_F(mtlsd_test, sigterm_lets_a_live_transfer_finish_then_exits_zero) {
  loopback_server backend(echo_handler(), 120s);
  config_spec config;
  config.server_lines = {R"(drain_timeout = "10s")"};
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);
  auto leaf = pki().client();
  tls_client client(client_options(client_identity::of(leaf)));
  ASSERT_TRUE(client.connect(loopback, port()).ok);

  const std::uint64_t half = 4 * mib;
  payload_source first(half, 11);
  write_result w1;
  std::thread writer([&] { w1 = client.write_stream(first); });
  auto r1 = client.read_stream(half);
  writer.join();
  ASSERT_TRUE(w1.ok);
  ASSERT_EQ(r1.sha256, payload_source(half, 11).expected_sha256());

  d.proc().send_signal(SIGTERM);
  auto draining = d.wait_event("draining");
  EXPECT_EQ(draining.get("connections"), "1");
  EXPECT_EQ(draining.get("timeout"), "10s");

  // New connections are no longer taken...
  tls_client_options late_options = client_options(client_identity::of(leaf));
  late_options.timeout = 2s;
  tls_client late(late_options);
  auto late_hs = late.connect(loopback, port());
  EXPECT_FALSE(late_hs.ok && late.probe().admitted) << "a connection was admitted while draining";

  // ...while the live one keeps moving data both ways.
  payload_source second(half, 12);
  write_result w2;
  std::thread writer2([&] { w2 = client.write_stream(second); });
  auto r2 = client.read_stream(half);
  writer2.join();
  EXPECT_TRUE(w2.ok) << w2.error;
  EXPECT_EQ(r2.bytes, half) << r2.error;
  EXPECT_EQ(r2.sha256, payload_source(half, 12).expected_sha256());
  EXPECT_TRUE(d.proc().running()) << "exited before the transfer ended";

  ASSERT_TRUE(client.shutdown());
  EXPECT_EQ(client.read_until_eof().end, read_end::close_notify);
  EXPECT_EQ(d.proc().wait_exit_and_output(5s), 0);
  EXPECT_EQ(d.wait_event("access", {}, 1s).get("bytes_from_client"), std::to_string(2 * half));
  EXPECT_FALSE(d.events("stopped").empty());
}

TEST_F(mtlsd_test, sigterm_closes_stuck_connections_at_drain_timeout_and_exits_zero) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.server_lines = {R"(drain_timeout = "1s")"};
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);
  auto leaf = pki().client();
  tls_client_options options = client_options(client_identity::of(leaf));
  options.timeout = 6s;
  tls_client client(options);
  ASSERT_TRUE(client.connect(loopback, port()).ok);
  ASSERT_TRUE(client.probe().admitted);

  const auto signalled = clock_type::now();
  d.proc().send_signal(SIGTERM);
  d.wait_event("draining");
  auto status = d.proc().wait_exit_and_output(6s);
  const auto took = clock_type::now() - signalled;
  ASSERT_TRUE(status.has_value()) << "still running 6 s after SIGTERM with drain_timeout 1s";
  EXPECT_EQ(*status, 0);
  EXPECT_GE(took, 800ms);
  EXPECT_LE(took, 5s);
  // The stuck client was closed, not left hanging.
  EXPECT_NE(client.read_until_eof().end, read_end::timeout);
  EXPECT_EQ(d.wait_event("access", {}, 1s).get("close"), "shutdown");
  EXPECT_FALSE(d.events("stopped").empty());
}

TEST_F(mtlsd_test, sigterm_with_no_connections_exits_zero_at_once) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.server_lines = {R"(drain_timeout = "30s")"};
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);
  d.proc().send_signal(SIGTERM);
  EXPECT_EQ(d.proc().wait_exit_and_output(3s), 0);
  EXPECT_EQ(d.wait_event("draining", {}, 1s).get("connections"), "0");
  EXPECT_FALSE(d.events("stopped").empty());
}

TEST_F(mtlsd_test, sigint_drains_like_sigterm) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);
  d.proc().send_signal(SIGINT);
  EXPECT_EQ(d.proc().wait_exit_and_output(3s), 0);
  EXPECT_FALSE(d.events("stopped").empty());
}

}  // namespace
}  // namespace mtlsd::test
