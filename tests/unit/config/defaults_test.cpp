// Owner: config module tests. [defaults]: inheritance, precedence, the allow
// table replaced as a whole, and TLS defaults on plain listeners.
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

using namespace std::chrono_literals;

class defaults_merge : public config_dir_test {};

TEST_F(defaults_merge, service_values_win_over_defaults) {
  const load_result r = load(R"(
[defaults]
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
idle_timeout = "60s"
connect_timeout = "2s"
verify_depth = 3
max_connections = 50

[[service]]
name = "inherits"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"

[[service]]
name = "overrides"
accept = "tls://127.0.0.1:3"
connect = "tcp://127.0.0.1:4"
truststore = "certs/ca-dir"
idle_timeout = "10m"
verify_depth = 1
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const service_config& a = r.cfg.services[0];
  EXPECT_EQ(a.cert, dir_.path() / "certs/server.crt");
  EXPECT_EQ(a.truststore, dir_.path() / "certs/client-ca.crt");
  EXPECT_EQ(a.idle_timeout, 60s);
  EXPECT_EQ(a.connect_timeout, 2s);
  EXPECT_EQ(a.verify_depth, 3);
  EXPECT_EQ(a.max_connections, std::optional<std::size_t>(50));
  // Inherited values point at [defaults].
  EXPECT_EQ(a.position_of("cert").line, 2);
  EXPECT_EQ(a.position_of("idle_timeout").line, 5);
  EXPECT_EQ(a.position_of("idle_timeout").column, 16);

  const service_config& b = r.cfg.services[1];
  EXPECT_EQ(b.cert, dir_.path() / "certs/server.crt");
  EXPECT_EQ(b.truststore, dir_.path() / "certs/ca-dir");
  EXPECT_EQ(b.idle_timeout, 10min);
  EXPECT_EQ(b.connect_timeout, 2s);
  EXPECT_EQ(b.verify_depth, 1);
  EXPECT_EQ(b.position_of("truststore").line, 19);
  EXPECT_EQ(b.position_of("verify_depth").line, 21);
  EXPECT_EQ(b.position_of("cert").line, 2);
}

TEST_F(defaults_merge, service_allow_replaces_defaults_allow_entirely) {
  const load_result r = load(R"(
[defaults]
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
[defaults.allow]
cn = ["from-defaults"]
ou = ["payments"]

[[service]]
name = "inherits"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"

[[service]]
name = "own"
accept = "tls://127.0.0.1:3"
connect = "tcp://127.0.0.1:4"
[service.allow]
dns = ["client.example"]
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const service_config& a = r.cfg.services[0];
  ASSERT_TRUE(a.allow.has_value());
  EXPECT_EQ(a.allow->cn, std::vector<std::string>{"from-defaults"});
  EXPECT_EQ(a.allow->ou, std::vector<std::string>{"payments"});
  EXPECT_EQ(a.position_of("allow").line, 5);
  EXPECT_EQ(a.position_of("allow.cn").line, 6);

  const service_config& b = r.cfg.services[1];
  ASSERT_TRUE(b.allow.has_value());
  EXPECT_TRUE(b.allow->cn.empty());
  EXPECT_TRUE(b.allow->ou.empty());
  EXPECT_EQ(b.allow->dns, std::vector<std::string>{"client.example"});
  EXPECT_EQ(b.position_of("allow").line, 18);
  EXPECT_EQ(b.position_of("allow.dns").line, 19);
  EXPECT_EQ(b.positions.count("allow.cn"), 0u);
}

TEST_F(defaults_merge, tls_defaults_are_not_applied_to_plain_listeners) {
  const load_result r = load(R"(
[defaults]
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
verify_client = "want"
verify_depth = 7
min_tls_version = "1.3"
handshake_timeout = "3s"
idle_timeout = "42s"
[defaults.allow]
cn = ["x"]

[[service]]
name = "plain"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"

[[service]]
name = "tls"
accept = "tls://127.0.0.1:3"
connect = "tcp://127.0.0.1:4"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const service_config& plain = r.cfg.services[0];
  EXPECT_TRUE(plain.cert.empty());
  EXPECT_TRUE(plain.key.empty());
  EXPECT_TRUE(plain.truststore.empty());
  EXPECT_EQ(plain.verify_client, verify_client_mode::require);
  EXPECT_EQ(plain.verify_depth, 4);
  EXPECT_EQ(plain.min_tls_version, tls_version::tls1_2);
  EXPECT_EQ(plain.handshake_timeout, 10s);
  EXPECT_FALSE(plain.allow.has_value());
  for (const char* key : {"cert", "key", "truststore", "verify_client", "verify_depth", "min_tls_version",
                          "handshake_timeout", "allow", "allow.cn"}) {
    EXPECT_EQ(plain.positions.count(key), 0u) << key;
  }
  EXPECT_EQ(plain.idle_timeout, 42s);  // not a TLS option: inherited

  const service_config& tls = r.cfg.services[1];
  EXPECT_EQ(tls.verify_client, verify_client_mode::want);
  EXPECT_EQ(tls.verify_depth, 7);
  EXPECT_EQ(tls.min_tls_version, tls_version::tls1_3);
  EXPECT_EQ(tls.handshake_timeout, 3s);
  ASSERT_TRUE(tls.allow.has_value());
  EXPECT_EQ(tls.allow->cn, std::vector<std::string>{"x"});
}

TEST_F(defaults_merge, verify_client_none_drops_an_inherited_whitelist) {
  const load_result r = load(R"(
[defaults]
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
[defaults.allow]
cn = ["x"]

[[service]]
name = "open"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
verify_client = "none"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_FALSE(r.cfg.services[0].allow.has_value());
  EXPECT_EQ(r.cfg.services[0].positions.count("allow.cn"), 0u);
  EXPECT_TRUE(r.cfg.services[0].truststore.empty());
}

TEST_F(defaults_merge, defaults_errors_are_reported_once_under_defaults) {
  const load_result r = load(R"(
[defaults]
idle_timeout = "forever"
verify_depht = 2
name = "shared"
accept = "tcp://0.0.0.0:1"
connect = "tcp://127.0.0.1:1"
log_level = "info"

[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"

[[service]]
name = "b"
accept = "tcp://127.0.0.1:3"
connect = "tcp://127.0.0.1:4"
)");
  EXPECT_EQ(r.errors.size(), 6u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 2, 16, "defaults.idle_timeout", "invalid duration \"forever\""));
  EXPECT_TRUE(has_error(r, 3, 1, "defaults.verify_depht", "unknown key; did you mean \"verify_depth\"?"));
  EXPECT_TRUE(has_error(r, 4, 1, "defaults.name", "\"name\" cannot be set in [defaults]; set it in each [[service]]"));
  EXPECT_TRUE(has_error(r, 5, 1, "defaults.accept", "\"accept\" cannot be set in [defaults]"));
  EXPECT_TRUE(has_error(r, 6, 1, "defaults.connect", "\"connect\" cannot be set in [defaults]"));
  EXPECT_TRUE(has_error(r, 7, 1, "defaults.log_level", "unknown key; \"log_level\" belongs in [server]"));
}

TEST_F(defaults_merge, missing_tls_keys_may_come_from_defaults) {
  const load_result r = load(R"(
[defaults]
cert = "certs/server.crt"

[[service]]
name = "half"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
)");
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 4, 1, "service[half].key", "required key missing"));
  EXPECT_TRUE(has_error(r, 4, 1, "service[half].truststore", "required key missing"));
}

}  // namespace
}  // namespace mtlsd::test
