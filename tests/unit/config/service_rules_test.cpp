// Owner: config module tests. [[service]] blocks: required keys, names,
// addresses, per-key validation, TLS options on plain listeners.
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

using namespace std::chrono_literals;

class service_rules : public config_dir_test {};

TEST_F(service_rules, name_accept_and_connect_are_required) {
  const load_result r = load(R"(
[[service]]
verify_depth = 1
accept = "tls://127.0.0.1:0"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"

[[service]]
name = "only-name"
)");
  EXPECT_EQ(r.errors.size(), 4u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 1, 1, "service[1].name", "required key missing"));
  EXPECT_TRUE(has_error(r, 1, 1, "service[1].connect", "required key missing"));
  EXPECT_TRUE(has_error(r, 8, 1, "service[only-name].accept", "required key missing"));
  EXPECT_TRUE(has_error(r, 8, 1, "service[only-name].connect", "required key missing"));
  ASSERT_EQ(r.cfg.services.size(), 2u);
  EXPECT_EQ(r.cfg.services[0].key_path_prefix, "service[1]");
  EXPECT_EQ(r.cfg.services[1].key_path_prefix, "service[only-name]");
}

TEST_F(service_rules, name_must_match_the_pattern) {
  const std::string long_name(65, 'n');
  const load_result r = load(R"(
[[service]]
name = "bad name!"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
verify_depth = 1

[[service]]
name = ""
accept = "tcp://127.0.0.1:3"
connect = "tcp://127.0.0.1:4"

[[service]]
name = 7
accept = "tcp://127.0.0.1:5"
connect = "tcp://127.0.0.1:6"

[[service]]
name = "ok.name_1-A"
accept = "tcp://127.0.0.1:7"
connect = "tcp://127.0.0.1:8"

[[service]]
name = ")" + long_name + R"("
accept = "tcp://127.0.0.1:9"
connect = "tcp://127.0.0.1:10"
)");
  EXPECT_EQ(r.errors.size(), 5u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 2, 8, "service[1].name",
                        "invalid service name \"bad name!\": use 1 to 64 characters from A-Z a-z 0-9 . _ -"));
  // Errors inside a block with an unusable name use the block's index.
  EXPECT_TRUE(has_error(r, 5, 16, "service[1].verify_depth", "TLS option on a plain tcp:// listener"));
  EXPECT_TRUE(has_error(r, 8, 8, "service[2].name", "invalid service name \"\""));
  EXPECT_TRUE(has_error(r, 13, 8, "service[3].name", "expected a string, got integer"));
  EXPECT_TRUE(has_error(r, 23, 8, "service[5].name", "invalid service name \"" + long_name + "\""));
  EXPECT_EQ(r.cfg.services[3].key_path_prefix, "service[ok.name_1-A]");
}

TEST_F(service_rules, sixty_four_character_name_is_fine) {
  const load_result r = load(R"(
[[service]]
name = ")" + std::string(64, 'x') + R"("
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
)");
  EXPECT_TRUE(r.ok()) << describe(r.errors);
}

TEST_F(service_rules, duplicate_name_is_reported_at_the_second_with_the_first_line) {
  const load_result r = load(R"(
[[service]]
name = "api"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"

[[service]]
name = "other"
accept = "tcp://127.0.0.1:3"
connect = "tcp://127.0.0.1:4"

[[service]]
  name = "api"
accept = "tcp://127.0.0.1:5"
connect = "tcp://127.0.0.1:6"
)");
  EXPECT_TRUE(has_only_error(r, 12, 10, "service[api].name", "duplicate service name \"api\" (first defined at line 2)"));
}

TEST_F(service_rules, same_address_is_reported_at_the_later_service) {
  const load_result r = load(R"(
[[service]]
name = "first"
accept = "tcp://127.0.0.1:7000"
connect = "tcp://127.0.0.1:2"

[[service]]
name = "second"
accept = "tls://127.0.0.1:7000"
connect = "tcp://127.0.0.1:3"
cert = "certs/server.crt"
key = "certs/server.key"
verify_client = "none"
)");
  EXPECT_TRUE(has_only_error(r, 8, 10, "service[second].accept",
                             "address conflicts with service \"first\" (accept = \"tcp://127.0.0.1:7000\" at line 3)"));
}

TEST_F(service_rules, wildcard_hosts_conflict_with_specific_ones) {
  const load_result r = load(R"(
[[service]]
name = "any4"
accept = "tcp://0.0.0.0:7000"
connect = "tcp://127.0.0.1:1"

[[service]]
name = "lo4"
accept = "tcp://127.0.0.1:7000"
connect = "tcp://127.0.0.1:1"

[[service]]
name = "lo6"
accept = "tcp://[::1]:7001"
connect = "tcp://127.0.0.1:1"

[[service]]
name = "any6"
accept = "tcp://[::]:7001"
connect = "tcp://127.0.0.1:1"

[[service]]
name = "lo4-on-7001"
accept = "tcp://127.0.0.1:7001"
connect = "tcp://127.0.0.1:1"
)");
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 8, 10, "service[lo4].accept", "address conflicts with service \"any4\""));
  EXPECT_TRUE(has_error(r, 18, 10, "service[any6].accept", "address conflicts with service \"lo6\""));
  // "::" is bound IPv6-only, so an IPv4 host on the same port is no conflict.
}

TEST_F(service_rules, addresses_that_can_coexist) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:0"
connect = "tcp://127.0.0.1:1"

[[service]]
name = "b"
accept = "tcp://127.0.0.1:0"
connect = "tcp://127.0.0.1:1"

[[service]]
name = "c"
accept = "tcp://127.0.0.1:7000"
connect = "tcp://127.0.0.1:1"

[[service]]
name = "d"
accept = "tcp://127.0.0.2:7000"
connect = "tcp://127.0.0.1:1"

[[service]]
name = "e"
accept = "tcp://[::1]:7000"
connect = "tcp://127.0.0.1:1"

[[service]]
name = "f"
accept = "tcp://127.0.0.1:7001"
connect = "tcp://127.0.0.1:1"
)");
  EXPECT_TRUE(r.ok()) << describe(r.errors);
}

TEST_F(service_rules, conflict_with_an_unnamed_service_uses_its_index) {
  const load_result r = load(R"(
[[service]]
accept = "tcp://[::1]:7000"
connect = "tcp://127.0.0.1:1"

[[service]]
name = "b"
accept = "tcp://[0::1]:7000"
connect = "tcp://127.0.0.1:1"
)");
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 1, 1, "service[1].name", "required key missing"));
  EXPECT_TRUE(has_error(r, 7, 10, "service[b].accept",
                        "address conflicts with service[1] (accept = \"tcp://[::1]:7000\" at line 2)"));
}

TEST_F(service_rules, connect_needs_a_port_and_one_scheme) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = ["tcp://127.0.0.1:8443", "tls://127.0.0.1:8444"]

[[service]]
name = "b"
accept = "tcp://127.0.0.1:2"
connect = "tcp://backend:0"

[[service]]
name = "c"
accept = "tcp//127.0.0.1:3"
connect = "tcp://backend"
)");
  EXPECT_EQ(r.errors.size(), 4u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 4, 36, "service[a].connect", "all backends must use the same scheme (tcp:// like the first)"));
  EXPECT_TRUE(has_error(r, 9, 11, "service[b].connect", "port must not be 0 for a backend"));
  EXPECT_TRUE(has_error(r, 13, 10, "service[c].accept",
                        "invalid address \"tcp//127.0.0.1:3\": missing scheme: expected tls://, ssl:// or tcp://"));
  EXPECT_TRUE(has_error(r, 14, 11, "service[c].connect", "invalid address \"tcp://backend\": missing port"));
}

TEST_F(service_rules, connect_lists_several_backends_in_order) {
  const load_result r = load(R"(
[[service]]
name = "pool"
accept = "tcp://127.0.0.1:0"
connect = ["tcp://10.0.0.6:8080", "tcp://10.0.0.5:8080", "tcp://backend.internal:9000"]

[[service]]
name = "one"
accept = "tcp://127.0.0.1:0"
connect = "tls://partner.example:443"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(to_string(r.cfg.services[0].connect),
            "tcp://10.0.0.6:8080, tcp://10.0.0.5:8080, tcp://backend.internal:9000");
  ASSERT_EQ(r.cfg.services[1].connect.size(), 1u);
  EXPECT_EQ(r.cfg.services[1].connect[0].scheme, transport::tls);
}

TEST_F(service_rules, connect_list_must_be_non_empty_without_repeats) {
  const load_result r = load(R"(
[[service]]
name = "empty"
accept = "tcp://127.0.0.1:0"
connect = []

[[service]]
name = "twice"
accept = "tcp://127.0.0.1:0"
connect = ["tcp://10.0.0.5:8080", "tcp://10.0.0.5:8080"]
)");
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 4, 11, "service[empty].connect", "must name at least one backend"));
  EXPECT_TRUE(has_error(r, 9, 35, "service[twice].connect", "backend \"tcp://10.0.0.5:8080\" is listed twice"));
}

TEST_F(service_rules, per_key_values_are_validated) {
  const load_result r = load(R"(
[[service]]
name = "partner-api"
accept = "tls://127.0.0.1:8443"
connect = "tcp://127.0.0.1:8080"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
verify_client = "maybe"
verify_depth = 33
min_tls_version = "1.1"
handshake_timeout = "0s"
idle_timeout = "1.5s"
connect_timeout = 5
max_connections = 0
)");
  EXPECT_EQ(r.errors.size(), 7u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 8, 17, "service[partner-api].verify_client",
                        "must be one of none, want, require (got \"maybe\")"));
  EXPECT_TRUE(has_error(r, 9, 16, "service[partner-api].verify_depth", "must be between 0 and 32 (got 33)"));
  EXPECT_TRUE(has_error(r, 10, 19, "service[partner-api].min_tls_version", "must be one of 1.2, 1.3 (got \"1.1\")"));
  EXPECT_TRUE(has_error(r, 11, 21, "service[partner-api].handshake_timeout", "must be greater than 0"));
  EXPECT_TRUE(has_error(r, 12, 16, "service[partner-api].idle_timeout", "invalid duration \"1.5s\""));
  EXPECT_TRUE(has_error(r, 13, 19, "service[partner-api].connect_timeout", "expected a string, got integer"));
  EXPECT_TRUE(has_error(r, 14, 19, "service[partner-api].max_connections", "must be at least 1 (got 0)"));
}

TEST_F(service_rules, wrong_types_name_the_type_found) {
  const load_result r = load(R"(
[[service]]
name = "t"
accept = 8443
connect = 8080
verify_client = true
cert = { path = "x" }
verify_depth = "4"
min_tls_version = 1.2
)");
  EXPECT_EQ(r.errors.size(), 6u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 3, 10, "service[t].accept", "expected a string, got integer"));
  EXPECT_TRUE(has_error(r, 4, 11, "service[t].connect", "expected a string, got integer"));
  EXPECT_TRUE(has_error(r, 5, 17, "service[t].verify_client", "expected a string, got boolean"));
  EXPECT_TRUE(has_error(r, 6, 8, "service[t].cert", "expected a string, got table"));
  EXPECT_TRUE(has_error(r, 7, 16, "service[t].verify_depth", "expected an integer, got string"));
  EXPECT_TRUE(has_error(r, 8, 19, "service[t].min_tls_version", "expected a string, got float"));
}

TEST_F(service_rules, verify_depth_bounds) {
  const load_result r = load(R"(
[[service]]
name = "zero"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
verify_depth = 0

[[service]]
name = "max"
accept = "tls://127.0.0.1:3"
connect = "tcp://127.0.0.1:4"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
verify_depth = 32

[[service]]
name = "negative"
accept = "tls://127.0.0.1:5"
connect = "tcp://127.0.0.1:6"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
verify_depth = -1
)");
  EXPECT_TRUE(has_only_error(r, 26, 16, "service[negative].verify_depth", "must be between 0 and 32 (got -1)"));
  EXPECT_EQ(r.cfg.services[0].verify_depth, 0);
  EXPECT_EQ(r.cfg.services[1].verify_depth, 32);
}

TEST_F(service_rules, unknown_service_key_suggests_the_closest) {
  const load_result r = load(R"(
[[service]]
name = "partner-api"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
verfy_client = "none"
certificate = "x"
log_format = "json"
[service.alow]
cn = ["a"]
)");
  EXPECT_EQ(r.errors.size(), 4u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 5, 1, "service[partner-api].verfy_client", "unknown key; did you mean \"verify_client\"?"));
  EXPECT_TRUE(has_error(r, 6, 1, "service[partner-api].certificate", "unknown key"));
  EXPECT_TRUE(has_error(r, 7, 1, "service[partner-api].log_format", "unknown key; \"log_format\" belongs in [server]"));
  EXPECT_TRUE(has_error(r, 8, 10, "service[partner-api].alow", "unknown key; did you mean \"allow\"?"));
}

TEST_F(service_rules, tls_options_written_on_a_tcp_listener_are_errors) {
  const load_result r = load(R"(
[[service]]
name = "plain"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
verify_client = "require"
cert = "does/not/exist.crt"
key = "certs/server.key"
key_password_file = "certs/key.pass"
truststore = "certs/client-ca.crt"
verify_depth = 2
min_tls_version = "1.3"
handshake_timeout = "5s"
idle_timeout = "5s"
connect_timeout = "1s"
max_connections = 3
[service.allow]
cn = ["a"]
)");
  constexpr std::string_view message = "TLS option on a plain tcp:// listener; use tls:// in accept or remove this key";
  EXPECT_EQ(r.errors.size(), 9u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 5, 17, "service[plain].verify_client", message));
  // Reported as a TLS option only: whether the file exists does not matter here.
  EXPECT_TRUE(has_error(r, 6, 8, "service[plain].cert", message));
  EXPECT_TRUE(has_error(r, 7, 7, "service[plain].key", message));
  EXPECT_TRUE(has_error(r, 8, 21, "service[plain].key_password_file", message));
  EXPECT_TRUE(has_error(r, 9, 14, "service[plain].truststore", message));
  EXPECT_TRUE(has_error(r, 10, 16, "service[plain].verify_depth", message));
  EXPECT_TRUE(has_error(r, 11, 19, "service[plain].min_tls_version", message));
  EXPECT_TRUE(has_error(r, 12, 21, "service[plain].handshake_timeout", message));
  EXPECT_TRUE(has_error(r, 16, 1, "service[plain].allow", message));
  // Not TLS options: applied.
  const service_config& s = r.cfg.services[0];
  EXPECT_EQ(s.idle_timeout, 5s);
  EXPECT_EQ(s.connect_timeout, 1s);
  EXPECT_EQ(s.max_connections, std::optional<std::size_t>(3));
}

TEST_F(service_rules, tls_listener_needs_cert_key_and_truststore) {
  const load_result r = load(R"(
[[service]]
name = "bare"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
)");
  EXPECT_EQ(r.errors.size(), 3u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 1, 1, "service[bare].cert", "required key missing: a tls:// listener needs a certificate"));
  EXPECT_TRUE(has_error(r, 1, 1, "service[bare].key", "required key missing: a tls:// listener needs the certificate's key"));
  EXPECT_TRUE(has_error(r, 1, 1, "service[bare].truststore",
                        "required key missing: client certificates are verified against it unless verify_client = \"none\""));
}

TEST_F(service_rules, invalid_values_do_not_also_count_as_missing) {
  const load_result r = load(R"(
[[service]]
name = "s"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = 1
key = ""
verify_client = "sometimes"
)");
  EXPECT_EQ(r.errors.size(), 3u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 5, 8, "service[s].cert", "expected a string, got integer"));
  EXPECT_TRUE(has_error(r, 6, 7, "service[s].key", "empty path"));
  EXPECT_TRUE(has_error(r, 7, 17, "service[s].verify_client", "(got \"sometimes\")"));
}

TEST_F(service_rules, verify_client_none_needs_no_truststore) {
  const load_result r = load(R"(
[[service]]
name = "open"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
verify_client = "none"

[[service]]
name = "open2"
accept = "tls://127.0.0.1:3"
connect = "tcp://127.0.0.1:4"
cert = "certs/server.crt"
key = "certs/server.key"
verify_client = "none"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  for (const service_config& s : r.cfg.services) {
    EXPECT_EQ(s.verify_client, verify_client_mode::none);
    // Nothing is verified, so the truststore is not passed on.
    EXPECT_TRUE(s.truststore.empty()) << s.name;
  }
}

TEST_F(service_rules, whitelist_with_verify_client_none_is_an_error) {
  const load_result r = load(R"(
[[service]]
name = "open"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
verify_client = "none"
[service.allow]
cn = ["partner-a"]
)");
  EXPECT_TRUE(has_only_error(r, 8, 1, "service[open].allow",
                             "has no effect with verify_client = \"none\" (no client certificate is requested)"));
}

}  // namespace
}  // namespace mtlsd::test
