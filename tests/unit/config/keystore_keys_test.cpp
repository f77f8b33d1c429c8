// Owner: config module tests. The keystore keys — keystore,
// keystore_password_file/_env, keystore_alias, truststore_password_file/_env
// — as config keys: paths resolved and checked like the other TLS files,
// the alternatives (keystore or cert/key, a password file or a variable)
// refused when both are written, and a keystore without its password
// refused. The stores' contents are read by the TLS module
// (tests/unit/tls/keystore_context_test.cpp).
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

class keystore_keys : public config_dir_test {
 protected:
  keystore_keys() {
    dir_.write("certs/server.p12");
    dir_.write("certs/trust.jks");
  }
};

TEST_F(keystore_keys, keystore_replaces_cert_and_key) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
keystore = "certs/server.p12"
keystore_password_file = "certs/key.pass"
keystore_alias = "server"
truststore = "certs/trust.jks"
truststore_password_env = "MTLSD_TRUSTSTORE_PASSWORD"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const service_config& s = r.cfg.services[0];
  EXPECT_TRUE(s.cert.empty());
  EXPECT_TRUE(s.key.empty());
  EXPECT_EQ(s.keystore, dir_.path() / "certs/server.p12");
  EXPECT_EQ(s.keystore_password_file, dir_.path() / "certs/key.pass");
  EXPECT_TRUE(s.keystore_password_env.empty());
  EXPECT_EQ(s.keystore_alias, "server");
  EXPECT_EQ(s.truststore, dir_.path() / "certs/trust.jks");
  EXPECT_EQ(s.truststore_password_env, "MTLSD_TRUSTSTORE_PASSWORD");
  EXPECT_EQ(s.position_of("keystore").line, 5);
  EXPECT_EQ(s.position_of("keystore").column, 12);
  EXPECT_EQ(s.position_of("truststore_password_env").line, 9);
}

TEST_F(keystore_keys, keystore_and_cert_both_set_is_an_error_naming_both) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
verify_client = "none"
cert = "certs/server.crt"
keystore = "certs/server.p12"
keystore_password_env = "KS_PASS"
)");
  EXPECT_TRUE(has_only_error(r, 7, 12, "service[a].keystore",
                             "keystore and cert are both set (cert at line 6); the certificate and key come either "
                             "from keystore or from cert and key"));
}

TEST_F(keystore_keys, keystore_with_key_and_key_password_file_names_them_all) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
verify_client = "none"
keystore = "certs/server.p12"
keystore_password_env = "KS_PASS"
key = "certs/server.key"
key_password_file = "certs/key.pass"
)");
  EXPECT_TRUE(has_only_error(r, 6, 12, "service[a].keystore",
                             "keystore and key and key_password_file are both set (key at line 8, "
                             "key_password_file at line 9)"));
}

TEST_F(keystore_keys, keystore_needs_a_password) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
verify_client = "none"
keystore = "certs/server.p12"
)");
  EXPECT_TRUE(has_only_error(r, 6, 12, "service[a].keystore_password_file",
                             "required key missing: a keystore needs keystore_password_file or keystore_password_env"));
}

TEST_F(keystore_keys, a_password_file_and_a_variable_are_alternatives) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
keystore = "certs/server.p12"
keystore_password_file = "certs/key.pass"
keystore_password_env = "KS_PASS"
truststore = "certs/trust.jks"
truststore_password_file = "certs/key.pass"
truststore_password_env = "TS_PASS"
)");
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 7, 25, "service[a].keystore_password_env",
                        "keystore_password_file and keystore_password_env are both set (keystore_password_file at "
                        "line 6); set one of them"));
  EXPECT_TRUE(has_error(r, 10, 27, "service[a].truststore_password_env",
                        "truststore_password_file and truststore_password_env are both set"));
}

TEST_F(keystore_keys, bad_values_are_reported_at_the_value) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
verify_client = "none"
keystore = "certs/missing.p12"
keystore_password_env = "changeit!"
keystore_alias = ""
)");
  EXPECT_EQ(r.errors.size(), 3u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 6, 12, "service[a].keystore", "file not found: certs/missing.p12"));
  EXPECT_TRUE(has_error(r, 7, 25, "service[a].keystore_password_env",
                        "invalid environment variable name \"changeit!\": use letters, digits and _"));
  EXPECT_TRUE(has_error(r, 8, 18, "service[a].keystore_alias", "empty alias"));
}

TEST_F(keystore_keys, store_keys_without_their_store_have_no_effect) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
verify_client = "none"
cert = "certs/server.crt"
key = "certs/server.key"
keystore_alias = "server"
truststore_password_file = "certs/key.pass"
)");
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 8, 18, "service[a].keystore_alias", "has no effect without keystore"));
  EXPECT_TRUE(has_error(r, 9, 28, "service[a].truststore_password_file", "has no effect without truststore"));
}

TEST_F(keystore_keys, tls_only_on_a_plain_listener) {
  const load_result r = load(R"(
[[service]]
name = "plain"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
keystore = "certs/server.p12"
)");
  EXPECT_TRUE(has_only_error(r, 5, 12, "service[plain].keystore", "TLS option on a plain tcp:// listener"));
}

TEST_F(keystore_keys, a_service_keystore_replaces_inherited_cert_and_key) {
  const load_result r = load(R"(
[defaults]
cert = "certs/server.crt"
key = "certs/server.key"
key_password_file = "certs/key.pass"
truststore = "certs/trust.jks"
truststore_password_file = "certs/key.pass"

[[service]]
name = "from-store"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
keystore = "certs/server.p12"
keystore_password_env = "KS_PASS"

[[service]]
name = "from-pem"
accept = "tls://127.0.0.1:3"
connect = "tcp://127.0.0.1:4"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const service_config& store = r.cfg.services[0];
  EXPECT_EQ(store.keystore, dir_.path() / "certs/server.p12");
  EXPECT_TRUE(store.cert.empty());
  EXPECT_TRUE(store.key.empty());
  EXPECT_TRUE(store.key_password_file.empty());
  EXPECT_EQ(store.truststore_password_file, dir_.path() / "certs/key.pass");
  const service_config& pem = r.cfg.services[1];
  EXPECT_EQ(pem.cert, dir_.path() / "certs/server.crt");
  EXPECT_TRUE(pem.keystore.empty());
}

TEST_F(keystore_keys, service_cert_and_key_replace_an_inherited_keystore) {
  const load_result r = load(R"(
[defaults]
verify_client = "none"
keystore = "certs/server.p12"
keystore_password_file = "certs/key.pass"
keystore_alias = "server"

[[service]]
name = "from-pem"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"

[[service]]
name = "from-store"
accept = "tls://127.0.0.1:3"
connect = "tcp://127.0.0.1:4"
keystore_password_env = "KS_PASS"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const service_config& pem = r.cfg.services[0];
  EXPECT_TRUE(pem.keystore.empty());
  EXPECT_TRUE(pem.keystore_password_file.empty());
  EXPECT_TRUE(pem.keystore_alias.empty());
  // Its own password variable replaces the inherited password file.
  const service_config& store = r.cfg.services[1];
  EXPECT_EQ(store.keystore, dir_.path() / "certs/server.p12");
  EXPECT_EQ(store.keystore_alias, "server");
  EXPECT_EQ(store.keystore_password_env, "KS_PASS");
  EXPECT_TRUE(store.keystore_password_file.empty());
}

TEST_F(keystore_keys, defaults_with_both_are_reported_once_under_defaults) {
  const load_result r = load(R"(
[defaults]
verify_client = "none"
cert = "certs/server.crt"
key = "certs/server.key"
keystore = "certs/server.p12"
keystore_password_file = "certs/key.pass"

[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
)");
  EXPECT_TRUE(has_only_error(r, 5, 12, "defaults.keystore", "keystore and cert and key are both set"));
}

TEST_F(keystore_keys, verify_client_none_drops_the_truststore_password) {
  const load_result r = load(R"(
[defaults]
truststore = "certs/trust.jks"
truststore_password_file = "certs/key.pass"

[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
verify_client = "none"
keystore = "certs/server.p12"
keystore_password_file = "certs/key.pass"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.services[0].truststore.empty());
  EXPECT_TRUE(r.cfg.services[0].truststore_password_file.empty());
}

TEST_F(keystore_keys, admin_serves_tls_from_a_keystore) {
  const load_result r = load(R"(
[admin]
listen = "127.0.0.1:9901"
keystore = "certs/server.p12"
keystore_password_file = "certs/key.pass"
truststore = "certs/trust.jks"
truststore_password_env = "TS_PASS"

[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  ASSERT_TRUE(r.cfg.admin.listen);
  EXPECT_EQ(r.cfg.admin.listen->scheme, transport::tls);
  EXPECT_EQ(r.cfg.admin.tls.keystore, dir_.path() / "certs/server.p12");
  EXPECT_EQ(r.cfg.admin.tls.keystore_password_file, dir_.path() / "certs/key.pass");
  EXPECT_EQ(r.cfg.admin.tls.truststore_password_env, "TS_PASS");
  EXPECT_EQ(r.cfg.admin.tls.verify_client, verify_client_mode::require);
}

TEST_F(keystore_keys, admin_mistakes_with_keystores) {
  const load_result r = load(R"(
[admin]
listen = "127.0.0.1:9901"
cert = "certs/server.crt"
key = "certs/server.key"
keystore = "certs/server.p12"

[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
)");
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 5, 12, "admin.keystore", "keystore and cert and key are both set"));
  EXPECT_TRUE(has_error(r, 5, 12, "admin.keystore_password_file", "required key missing"));
}

}  // namespace
}  // namespace mtlsd::test
