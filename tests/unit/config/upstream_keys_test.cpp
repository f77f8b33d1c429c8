// Owner: config module tests. [service.upstream] (TLS towards tls://
// backends) and the accept-side `alpn`: values read and merged with
// [defaults.upstream] key by key, files checked, and every misuse reported at
// its own file:line:col in one run.
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

using upstream_keys = config_dir_test;

TEST_F(upstream_keys, client_mode_reads_every_key) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tls://backend.internal:443"

[service.upstream]
cert = "certs/server.crt"
key = "certs/server.key"
key_password_file = "certs/key.pass"
truststore = "certs/ca-dir"
server_name = "API.Partner.Example"
verify_hostname = false
min_tls_version = "1.3"
alpn = ["h2", "http/1.1"]
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const upstream_tls_config& u = r.cfg.services[0].upstream;
  EXPECT_EQ(u.cert, dir_.path() / "certs/server.crt");
  EXPECT_EQ(u.key, dir_.path() / "certs/server.key");
  EXPECT_EQ(u.key_password_file, dir_.path() / "certs/key.pass");
  EXPECT_EQ(u.truststore, dir_.path() / "certs/ca-dir");
  EXPECT_EQ(u.server_name, "api.partner.example");
  EXPECT_FALSE(u.verify_hostname);
  EXPECT_EQ(u.min_tls_version, tls_version::tls1_3);
  EXPECT_EQ(u.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(r.cfg.services[0].position_of("upstream.server_name").line, 11);
}

TEST_F(upstream_keys, defaults_are_merged_key_by_key_and_an_own_keystore_replaces_inherited_cert_and_key) {
  dir_.write("certs/client.p12");
  const load_result r = load(R"(
[defaults.upstream]
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
verify_hostname = false

[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tls://127.0.0.1:443"

[service.upstream]
keystore = "certs/client.p12"
keystore_password_env = "KS"

[[service]]
name = "b"
accept = "tcp://127.0.0.1:3"
connect = "tls://127.0.0.1:444"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const upstream_tls_config& a = r.cfg.services[0].upstream;
  EXPECT_TRUE(a.cert.empty());
  EXPECT_TRUE(a.key.empty());
  EXPECT_EQ(a.keystore, dir_.path() / "certs/client.p12");
  EXPECT_EQ(a.truststore, dir_.path() / "certs/client-ca.crt");
  EXPECT_FALSE(a.verify_hostname);
  const upstream_tls_config& b = r.cfg.services[1].upstream;
  EXPECT_EQ(b.cert, dir_.path() / "certs/server.crt");
  EXPECT_TRUE(b.keystore.empty());
}

TEST_F(upstream_keys, upstream_table_with_a_tcp_connect_is_an_error) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"

[service.upstream]
truststore = "certs/client-ca.crt"
)");
  EXPECT_TRUE(has_only_error(r, 6, 1, "service[a].upstream", "needs a tls:// connect"));
}

TEST_F(upstream_keys, inherited_upstream_is_not_applied_to_a_tcp_backend) {
  const load_result r = load(R"(
[defaults.upstream]
truststore = "certs/client-ca.crt"

[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.services[0].upstream.truststore.empty());
}

TEST_F(upstream_keys, every_mistake_is_reported_at_once_at_its_own_position) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tls://127.0.0.1:2"

[service.upstream]
cert = "certs/missing.crt"
truststor = "certs/client-ca.crt"
verify_hostname = "yes"
min_tls_version = "1.1"
alpn = ["h2", ""]
server_name = "bad name"
)");
  EXPECT_EQ(r.errors.size(), 7u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 7, 8, "service[a].upstream.cert", "certs/missing.crt"));
  EXPECT_TRUE(has_error(r, 8, 1, "service[a].upstream.truststor", "did you mean \"truststore\""));
  EXPECT_TRUE(has_error(r, 9, 19, "service[a].upstream.verify_hostname", "expected true or false"));
  EXPECT_TRUE(has_error(r, 10, 19, "service[a].upstream.min_tls_version", "1.1"));
  EXPECT_TRUE(has_error(r, 11, 15, "service[a].upstream.alpn", "invalid ALPN protocol name"));
  EXPECT_TRUE(has_error(r, 12, 15, "service[a].upstream.server_name", "invalid server name"));
  EXPECT_TRUE(has_error(r, 6, 1, "service[a].upstream.key", "needs both cert and key"));
}

TEST_F(upstream_keys, keystore_and_cert_together_and_a_keystore_without_password_are_errors) {
  dir_.write("certs/client.p12");
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tls://127.0.0.1:2"

[service.upstream]
keystore = "certs/client.p12"
cert = "certs/server.crt"
)");
  EXPECT_TRUE(has_error(r, 7, 12, "service[a].upstream.keystore", "keystore and cert are both set"));
  EXPECT_TRUE(has_error(r, 7, 12, "service[a].upstream.keystore_password_file", "needs keystore_password_file"));
}

TEST_F(upstream_keys, accept_alpn_is_a_tls_option_but_a_tcp_accept_allows_upstream) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tls://127.0.0.1:2"
alpn = ["h2"]

[service.upstream]
alpn = ["h2"]
)");
  EXPECT_TRUE(has_only_error(r, 5, 8, "service[a].alpn", "TLS option on a plain tcp:// listener"));
}

TEST_F(upstream_keys, accept_alpn_keeps_its_order_and_refuses_duplicates) {
  const load_result ok = load(std::string(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
alpn = ["http/1.1", "h2"]
)"));
  ASSERT_TRUE(ok.ok()) << describe(ok.errors);
  EXPECT_EQ(ok.cfg.services[0].alpn, (std::vector<std::string>{"http/1.1", "h2"}));
  const load_result dup = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
alpn = ["h2", "h2"]
)");
  EXPECT_TRUE(has_only_error(dup, 8, 15, "service[a].alpn", "listed twice"));
}

}  // namespace
}  // namespace mtlsd::test
