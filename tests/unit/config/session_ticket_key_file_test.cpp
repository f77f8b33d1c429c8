// Owner: config module tests. session_ticket_key_file as a config key: a path
// like the other TLS files (resolved against the config's directory, checked
// for existence), inherited from [defaults], and a TLS-only key. Its contents
// are parsed by the TLS module (tests/unit/tls/ticket_keys_test.cpp).
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

class session_ticket_key_file_key : public config_dir_test {
 protected:
  session_ticket_key_file_key() { dir_.write("tickets/keys.txt"); }
};

TEST_F(session_ticket_key_file_key, relative_path_resolves_against_the_config_directory) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
session_ticket_key_file = "tickets/keys.txt"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const service_config& s = r.cfg.services[0];
  EXPECT_EQ(s.session_ticket_key_file, dir_.path() / "tickets/keys.txt");
  EXPECT_EQ(s.position_of("session_ticket_key_file").line, 8);
  EXPECT_EQ(s.position_of("session_ticket_key_file").column, 27);
}

TEST_F(session_ticket_key_file_key, not_set_means_no_key_file) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.services[0].session_ticket_key_file.empty());
}

TEST_F(session_ticket_key_file_key, missing_file_is_an_error_at_the_value) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
session_ticket_key_file = "tickets/missing.txt"
)");
  EXPECT_TRUE(has_only_error(r, 8, 27, "service[a].session_ticket_key_file",
                             "file not found: tickets/missing.txt (resolved to " +
                                 (dir_.path() / "tickets/missing.txt").string() + ")"));
}

TEST_F(session_ticket_key_file_key, a_directory_is_not_a_key_file) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
session_ticket_key_file = "tickets"
)");
  EXPECT_TRUE(has_only_error(r, 8, 27, "service[a].session_ticket_key_file", "expected a file, found a directory"));
}

TEST_F(session_ticket_key_file_key, must_be_a_string) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
session_ticket_key_file = 80
)");
  EXPECT_TRUE(has_only_error(r, 8, 27, "service[a].session_ticket_key_file", "expected a string, got integer"));
}

TEST_F(session_ticket_key_file_key, written_on_a_tcp_service_is_an_error) {
  const load_result r = load(R"(
[[service]]
name = "plain"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
session_ticket_key_file = "tickets/keys.txt"
)");
  EXPECT_TRUE(has_only_error(r, 5, 27, "service[plain].session_ticket_key_file",
                             "TLS option on a plain tcp:// listener"));
  EXPECT_TRUE(r.cfg.services[0].session_ticket_key_file.empty());
}

TEST_F(session_ticket_key_file_key, inherited_from_defaults_by_tls_services_only) {
  const load_result r = load(R"(
[defaults]
session_ticket_key_file = "tickets/keys.txt"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"

[[service]]
name = "tls"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"

[[service]]
name = "plain"
accept = "tcp://127.0.0.1:3"
connect = "tcp://127.0.0.1:4"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const service_config& tls = r.cfg.services[0];
  EXPECT_EQ(tls.session_ticket_key_file, dir_.path() / "tickets/keys.txt");
  EXPECT_EQ(tls.position_of("session_ticket_key_file").line, 2);
  EXPECT_TRUE(r.cfg.services[1].session_ticket_key_file.empty());
}

TEST_F(session_ticket_key_file_key, service_value_wins_over_defaults) {
  dir_.write("tickets/own.txt");
  const load_result r = load(R"(
[defaults]
session_ticket_key_file = "tickets/keys.txt"

[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
session_ticket_key_file = "tickets/own.txt"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.services[0].session_ticket_key_file, dir_.path() / "tickets/own.txt");
  EXPECT_EQ(r.cfg.services[0].position_of("session_ticket_key_file").line, 11);
}

TEST_F(session_ticket_key_file_key, missing_file_in_defaults_is_reported_once_under_defaults) {
  const load_result r = load(R"(
[defaults]
session_ticket_key_file = "tickets/missing.txt"

[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"

[[service]]
name = "b"
accept = "tls://127.0.0.1:3"
connect = "tcp://127.0.0.1:4"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
)");
  EXPECT_TRUE(has_only_error(r, 2, 27, "defaults.session_ticket_key_file", "file not found: tickets/missing.txt"));
}

TEST_F(session_ticket_key_file_key, misspelling_gets_a_hint) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
session_ticket_keys_file = "tickets/keys.txt"
)");
  EXPECT_TRUE(has_only_error(r, 8, 1, "service[a].session_ticket_keys_file",
                             "unknown key; did you mean \"session_ticket_key_file\"?"));
}

}  // namespace
}  // namespace mtlsd::test
