// How a refused connection is closed. A TLS 1.3 client considers the
// handshake done before the server has judged its certificate, and usually
// sends its first request straight away. If mtlsd then closed the socket with
// that request unread, the kernel would answer with RST, which can destroy the
// alert in flight: the partner would see "connection reset" instead of the
// reason (tools_test checks that curl reports the alert). mtlsd therefore
// half-closes and discards input for a bounded time before closing.

#include "integration.hpp"

namespace mtlsd::test {
namespace {

TEST_F(mtlsd_test, refused_connection_is_closed_within_the_linger_even_if_the_client_keeps_sending) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url(), "require"));
  auto& d = start(config);

  auto options = client_options();
  options.min_version = TLS1_3_VERSION;
  options.timeout = 1s;
  tls_client client(options);
  ASSERT_TRUE(client.connect(loopback, port()).ok);
  d.wait_event("handshake_failed", {{"reason", "no_certificate"}});

  // mtlsd discards what a refused client sends for a bounded time only; then
  // the socket is gone and our writes fail.
  const auto start = std::chrono::steady_clock::now();
  const std::string chunk(16 * 1024, 'x');
  bool write_failed = false;
  while (std::chrono::steady_clock::now() - start < 5s) {
    if (!client.write_all(chunk).ok) {
      write_failed = true;
      break;
    }
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_TRUE(write_failed) << "mtlsd kept reading from a refused client for 5 s";
  EXPECT_LE(elapsed.count(), 3000);
  d.wait_event("access", {{"close", "handshake_failed"}});
}

}  // namespace
}  // namespace mtlsd::test
