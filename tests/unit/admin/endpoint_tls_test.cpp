// The admin endpoint behind TLS with required client certificates, built the
// way the daemon builds it (tls::server_context for a service named "admin"),
// driven by curl and by the test TLS client.

#include <gtest/gtest.h>

#include "endpoint_test_support.hpp"
#include "tls_client.hpp"

namespace mtlsd::test {
namespace {

const admin::response metrics_page{200, "text/plain; version=0.0.4", "requests_total 7\n"};

class admin_tls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_program("curl")) GTEST_SKIP() << "curl is not installed";
    std::string errors;
    context = admin_tls_context(pki, errors);
    ASSERT_TRUE(context) << errors;
    routes.add("/metrics", metrics_page);
  }

  std::string url(const running_endpoint& ep, const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(ep.port()) + path;
  }
  std::vector<std::string> with_client_cert(std::vector<std::string> args) const {
    std::vector<std::string> all{"--cacert", pki.server_ca_file.string(), "--cert", pki.client_cert.string(),
                                 "--key",    pki.client_key.string()};
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }

  log_capture logs;  // first: outlives the endpoint, which logs through it
  admin_pki pki;
  std::shared_ptr<const tls::server_context> context;
  route_table routes;
};

TEST_F(admin_tls, a_client_with_a_trusted_certificate_is_served) {
  running_endpoint ep(routes.handler(), {}, context);
  const auto r = curl(with_client_cert({"-o", "-", "-w", "\n%{http_code} %{content_type}\n", url(ep, "/metrics")}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 0) << r->err;
  EXPECT_EQ(r->out, metrics_page.body + "\n200 " + metrics_page.content_type + "\n");
}

TEST_F(admin_tls, keep_alive_and_head_work_over_tls) {
  running_endpoint ep(routes.handler(), {}, context);
  // Two URLs in one curl run share one connection when the server keeps it open.
  const auto both = curl(with_client_cert(
      {"-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n", url(ep, "/metrics"),
       url(ep, "/metrics")}));
  ASSERT_TRUE(both);
  EXPECT_EQ(both->status, 0) << both->err;
  EXPECT_EQ(both->out, "200 1\n200 0\n");

  const auto head = curl(with_client_cert({"-I", url(ep, "/metrics")}));
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 0) << head->err;
  EXPECT_NE(head->out.find("HTTP/1.1 200"), std::string::npos) << head->out;
  EXPECT_NE(head->out.find("Content-Length: " + std::to_string(metrics_page.body.size())), std::string::npos)
      << head->out;
  EXPECT_EQ(routes.calls().size(), 3u);
}

TEST_F(admin_tls, no_client_certificate_is_refused_logged_and_the_endpoint_keeps_serving) {
  running_endpoint ep(routes.handler(), {}, context);
  const auto refused = curl({"--cacert", pki.server_ca_file.string(), "-o", "/dev/null", "-w", "%{http_code}\n",
                             url(ep, "/metrics")});
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->status, 0);
  EXPECT_EQ(refused->out, "000\n");
  const auto line = logs.wait_for({"admin_handshake_failed", "peer=127.0.0.1:", "reason=no_certificate"});
  EXPECT_TRUE(line) << "log lines:\n" << testing::PrintToString(logs.lines());
  if (line) {
    EXPECT_EQ(line->rfind("warn ", 0), 0u) << *line;
  }

  const auto served = curl(with_client_cert({"-o", "/dev/null", "-w", "%{http_code}\n", url(ep, "/metrics")}));
  ASSERT_TRUE(served);
  EXPECT_EQ(served->out, "200\n") << served->err;
  EXPECT_EQ(routes.calls(), std::vector<std::string>{"/metrics"});
}

TEST_F(admin_tls, a_certificate_from_an_untrusted_ca_is_refused) {
  running_endpoint ep(routes.handler(), {}, context);
  const auto refused = curl({"--cacert", pki.server_ca_file.string(), "--cert", pki.stranger_cert.string(), "--key",
                             pki.stranger_key.string(), "-o", "/dev/null", "-w", "%{http_code}\n", url(ep, "/metrics")});
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->status, 0);
  EXPECT_EQ(refused->out, "000\n");
  const auto line = logs.wait_for({"admin_handshake_failed", "reason=unknown_ca", "Somebody Else"});
  EXPECT_TRUE(line) << "log lines:\n" << testing::PrintToString(logs.lines());
  EXPECT_TRUE(routes.calls().empty());
}

TEST_F(admin_tls, connection_close_ends_with_close_notify) {
  running_endpoint ep(routes.handler(), {}, context);
  tls_client_options options;
  options.identity = client_identity::files(pki.client_cert, pki.client_key);
  options.ca_file = pki.server_ca_file;
  tls_client client(options);
  const auto hs = client.connect("127.0.0.1", ep.port());
  ASSERT_TRUE(hs.ok) << hs.error;
  ASSERT_TRUE(client.write_all(request("GET", "/metrics", "Connection: close\r\n")).ok);
  const auto got = client.read_until_eof();
  EXPECT_EQ(got.end, read_end::close_notify) << to_string(got.end) << " " << got.error;
  EXPECT_NE(got.data.find("HTTP/1.1 200"), std::string::npos) << got.data;
  EXPECT_NE(got.data.find("\r\n\r\n" + metrics_page.body), std::string::npos) << got.data;
}

TEST_F(admin_tls, a_client_that_never_starts_the_handshake_is_closed_after_read_timeout) {
  admin::endpoint_options options;
  options.read_timeout = std::chrono::milliseconds(300);
  running_endpoint ep(routes.handler(), options, context);
  const auto started = std::chrono::steady_clock::now();
  http_client silent(ep.port());
  ASSERT_TRUE(silent.connected()) << silent.error();
  EXPECT_TRUE(silent.closed_by_server(10s));
  EXPECT_GE(std::chrono::steady_clock::now() - started, options.read_timeout);
  const auto line = logs.wait_for({"warn admin_handshake_failed", "reason=timeout"});
  EXPECT_TRUE(line) << "log lines:\n" << testing::PrintToString(logs.lines());
}

TEST_F(admin_tls, a_connection_closed_without_a_byte_is_logged_below_warn) {
  running_endpoint ep(routes.handler(), {}, context);
  // What load-balancer TCP checks and port scans do: not worth a warning each time.
  http_client probe(ep.port());
  ASSERT_TRUE(probe.connected()) << probe.error();
  probe.close();
  const auto line = logs.wait_for({"admin_handshake_failed", "without sending a ClientHello"});
  ASSERT_TRUE(line) << "log lines:\n" << testing::PrintToString(logs.lines());
  EXPECT_EQ(line->rfind("info ", 0), 0u) << *line;
}

TEST_F(admin_tls, stop_ends_tls_connections_and_lets_run_return) {
  running_endpoint ep(routes.handler(), {}, context);
  tls_client_options options;
  options.identity = client_identity::files(pki.client_cert, pki.client_key);
  options.ca_file = pki.server_ca_file;
  tls_client client(options);
  ASSERT_TRUE(client.connect("127.0.0.1", ep.port()).ok);
  ASSERT_TRUE(client.write_all(request("GET", "/metrics")).ok);
  const auto first = client.read_exact(10);
  ASSERT_TRUE(first.ok()) << first.error;
  ASSERT_TRUE(ep.stop_and_wait(5s)) << "io_context::run() did not return after stop()";
  const auto rest = client.read_until_eof();
  EXPECT_NE(rest.end, read_end::timeout);
}

}  // namespace
}  // namespace mtlsd::test
