// Resource limits: slow handshakes, idle connections, connection caps.

#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

using clock_type = std::chrono::steady_clock;

struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

class limits : public mtlsd_test {
 protected:
  mtlsd_daemon& start_one(const loopback_server& backend, std::vector<std::string> lines) {
    config_spec config;
    config.services.push_back(service(backend.connect_url(), "require", std::move(lines)));
    return start(config);
  }
};

TEST_F(limits, silent_client_is_closed_at_handshake_timeout) {
  loopback_server backend(echo_handler());
  auto& d = start_one(backend, {R"(handshake_timeout = "1s")"});
  std::string error;
  fd_guard sock{tcp_connect(loopback, port(), 5s, &error)};
  ASSERT_GE(sock.fd, 0) << error;

  auto closed_after = wait_peer_close(sock.fd, 6s);
  ASSERT_TRUE(closed_after.has_value()) << "still open 6 s after connecting";
  EXPECT_GE(*closed_after, 800ms);
  EXPECT_LE(*closed_after, 5s);
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "timeout");
  EXPECT_EQ(backend.accepted(), 0u);
}

TEST_F(limits, connect_and_close_probe_is_logged_at_info_not_as_a_warning) {
  loopback_server backend(echo_handler());
  auto& d = start_one(backend, {});
  {
    std::string error;
    fd_guard sock{tcp_connect(loopback, port(), 5s, &error)};
    ASSERT_GE(sock.fd, 0) << error;
  }  // closed without a byte, as a load balancer's TCP check does
  const auto failed = d.wait_event("handshake_failed");
  EXPECT_EQ(failed.level, "info");
  EXPECT_EQ(failed.get("reason"), "other");
  EXPECT_NE(failed.get("detail").find("without sending a ClientHello"), std::string::npos) << failed.get("detail");
  EXPECT_EQ(backend.accepted(), 0u);
}

TEST_F(limits, client_stalling_inside_client_hello_is_closed_at_handshake_timeout) {
  loopback_server backend(echo_handler());
  auto& d = start_one(backend, {R"(handshake_timeout = "1s")"});
  std::string error;
  fd_guard sock{tcp_connect(loopback, port(), 5s, &error)};
  ASSERT_GE(sock.fd, 0) << error;
  // A handshake record announcing 512 bytes, then a ClientHello header and a
  // few bytes of it — and nothing more.
  const unsigned char partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x11, 0x22};
  ASSERT_EQ(::send(sock.fd, partial, sizeof partial, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof partial));

  auto closed_after = wait_peer_close(sock.fd, 6s);
  ASSERT_TRUE(closed_after.has_value()) << "still open 6 s after a partial ClientHello";
  EXPECT_GE(*closed_after, 800ms);
  EXPECT_LE(*closed_after, 5s);
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "timeout");
}

TEST_F(limits, idle_connection_is_closed_at_idle_timeout) {
  loopback_server backend(echo_handler());
  auto& d = start_one(backend, {R"(idle_timeout = "1s")"});
  auto leaf = pki().client();
  tls_client_options options = client_options(client_identity::of(leaf));
  options.timeout = 6s;
  tls_client client(options);
  ASSERT_TRUE(client.connect(loopback, port()).ok);
  ASSERT_TRUE(client.probe().admitted);

  const auto idle_since = clock_type::now();
  auto end = client.read_until_eof();
  const auto idle_for = clock_type::now() - idle_since;
  EXPECT_NE(end.end, read_end::timeout) << "still open 6 s into a 1 s idle timeout";
  // A deliberate close, not a truncation: the client gets close_notify.
  EXPECT_EQ(end.end, read_end::close_notify) << to_string(end.end) << " " << end.error;
  EXPECT_TRUE(end.data.empty());
  EXPECT_GE(idle_for, 800ms);
  EXPECT_LE(idle_for, 5s);
  EXPECT_EQ(d.wait_event("access").get("close"), "idle_timeout");
  // The backend side is closed too, not left dangling.
  EXPECT_EQ(backend.wait_finished(1).size(), 1u);
}

TEST_F(limits, traffic_keeps_a_connection_alive_past_idle_timeout) {
  loopback_server backend(echo_handler());
  auto& d = start_one(backend, {R"(idle_timeout = "1s")"});
  auto leaf = pki().client();
  tls_client client(client_options(client_identity::of(leaf)));
  ASSERT_TRUE(client.connect(loopback, port()).ok);
  const auto started = clock_type::now();
  // Round trips 400 ms apart for 2 s: never idle for 1 s, so never closed.
  // (The pauses are the point of the test, not a wait for an event.)
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client.probe("tick\n").admitted) << "closed after " << i << " round trips";
    std::this_thread::sleep_for(400ms);
  }
  EXPECT_TRUE(client.probe("last\n").admitted);
  EXPECT_GE(clock_type::now() - started, 2s);
  EXPECT_TRUE(d.events("access").empty());
}

TEST_F(limits, service_max_connections_refuses_the_third_and_keeps_the_first_two) {
  loopback_server backend(echo_handler());
  auto& d = start_one(backend, {"max_connections = 2"});
  auto leaf = pki().client();
  const auto options = client_options(client_identity::of(leaf));
  tls_client first(options), second(options), third(options);
  ASSERT_TRUE(first.connect(loopback, port()).ok);
  ASSERT_TRUE(first.probe().admitted);
  ASSERT_TRUE(second.connect(loopback, port()).ok);
  ASSERT_TRUE(second.probe().admitted);

  const auto started = clock_type::now();
  auto hs = third.connect(loopback, port());
  const bool third_admitted = hs.ok && third.probe().admitted;
  EXPECT_FALSE(third_admitted);
  EXPECT_LT(clock_type::now() - started, 3s) << "the refused client was left waiting";

  auto refused = d.wait_event("connection_refused");
  EXPECT_EQ(refused.get("svc"), "svc");
  EXPECT_EQ(refused.get("reason"), "max_connections");
  EXPECT_EQ(refused.get("limit"), "service");
  EXPECT_EQ(refused.get("max"), "2");

  EXPECT_TRUE(first.probe("first again\n").admitted);
  EXPECT_TRUE(second.probe("second again\n").admitted);
  EXPECT_EQ(backend.accepted(), 2u);
}

TEST_F(limits, global_max_connections_counts_across_services) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.server_lines = {"max_connections = 2"};
  auto a = service(backend.connect_url());
  a.name = "a";
  auto b = service(backend.connect_url());
  b.name = "b";
  config.services = {a, b};
  auto& d = start(config);
  auto leaf = pki().client();
  const auto options = client_options(client_identity::of(leaf));
  tls_client on_a(options), on_b(options), extra(options);
  ASSERT_TRUE(on_a.connect(loopback, port("a")).ok);
  ASSERT_TRUE(on_a.probe().admitted);
  ASSERT_TRUE(on_b.connect(loopback, port("b")).ok);
  ASSERT_TRUE(on_b.probe().admitted);

  auto hs = extra.connect(loopback, port("a"));
  EXPECT_FALSE(hs.ok && extra.probe().admitted);
  auto refused = d.wait_event("connection_refused");
  EXPECT_EQ(refused.get("svc"), "a");
  EXPECT_EQ(refused.get("limit"), "global");
  EXPECT_EQ(refused.get("max"), "2");
  EXPECT_TRUE(on_a.probe().admitted);
  EXPECT_TRUE(on_b.probe().admitted);
}

}  // namespace
}  // namespace mtlsd::test
