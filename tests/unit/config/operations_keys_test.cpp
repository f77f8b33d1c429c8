// The operations keys: [server] watch, reload_interval, pid_file, user, group
// and the [admin] table. Every mistake is an error at its key and line, found
// by `mtlsd check` — never by a reload or a privilege drop at run time.
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

constexpr const char* one_service = R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
)";

TEST_F(config_dir_test, reload_settings_default_to_signal_only) {
  const load_result r = load(one_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_FALSE(r.cfg.server.watch);
  EXPECT_FALSE(r.cfg.server.reload_interval);
  EXPECT_TRUE(r.cfg.server.pid_file.empty());
  EXPECT_FALSE(r.cfg.admin.listen);
}

TEST_F(config_dir_test, watch_interval_and_pid_file_are_read) {
  const load_result r = load(std::string(R"(
[server]
watch = true
reload_interval = "30s"
pid_file = "run/mtlsd.pid"
)") + one_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.server.watch);
  ASSERT_TRUE(r.cfg.server.reload_interval);
  EXPECT_EQ(*r.cfg.server.reload_interval, std::chrono::seconds(30));
  // Relative to the config file, like every other path.
  EXPECT_EQ(r.cfg.server.pid_file, dir_.path() / "run" / "mtlsd.pid");
}

TEST_F(config_dir_test, bad_reload_settings_are_errors_at_their_keys) {
  const load_result r = load(std::string(R"(
[server]
watch = "yes"
reload_interval = "0s"
pid_file = ""
)") + one_service);
  ASSERT_EQ(r.errors.size(), 3u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].key, "server.watch");
  EXPECT_EQ(r.errors[0].where.line, 2);
  EXPECT_NE(r.errors[0].message.find("true or false"), std::string::npos) << r.errors[0].message;
  EXPECT_EQ(r.errors[1].key, "server.reload_interval");
  EXPECT_EQ(r.errors[2].key, "server.pid_file");
}

TEST_F(config_dir_test, expiry_warning_defaults_to_30_days_and_zero_turns_it_off) {
  load_result r = load(one_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.server.expiry_warning, std::chrono::hours(24 * 30));
  r = load(std::string("[server]\nexpiry_warning = \"0s\"\n") + one_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.server.expiry_warning.count(), 0);
  r = load(std::string("[server]\nexpiry_warning = 14\n") + one_service);
  ASSERT_EQ(r.errors.size(), 1u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].key, "server.expiry_warning");
}

TEST_F(config_dir_test, unknown_user_or_group_is_an_error_before_start) {
  const load_result r = load(std::string(R"(
[server]
user = "no-such-user-mtlsd"
group = "no-such-group-mtlsd"
)") + one_service);
  ASSERT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].key, "server.user");
  EXPECT_NE(r.errors[0].message.find("no such user"), std::string::npos) << r.errors[0].message;
  EXPECT_EQ(r.errors[1].key, "server.group");
  EXPECT_NE(r.errors[1].message.find("no such group"), std::string::npos) << r.errors[1].message;
}

TEST_F(config_dir_test, existing_user_and_group_are_accepted) {
  const load_result r = load(std::string("[server]\nuser = \"root\"\ngroup = \"root\"\n") + one_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.server.user, "root");
  EXPECT_EQ(r.cfg.server.group, "root");
}

TEST_F(config_dir_test, plain_admin_endpoint_needs_only_listen) {
  const load_result r = load(std::string("[admin]\nlisten = \"127.0.0.1:9901\"\n") + one_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  ASSERT_TRUE(r.cfg.admin.listen);
  EXPECT_EQ(r.cfg.admin.listen->scheme, transport::tcp);
  EXPECT_EQ(r.cfg.admin.listen->host, "127.0.0.1");
  EXPECT_EQ(r.cfg.admin.listen->port, 9901);
}

TEST_F(config_dir_test, admin_with_cert_and_truststore_requires_client_certificates) {
  const load_result r = load(std::string(R"(
[admin]
listen = "[::1]:9901"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
)") + one_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  ASSERT_TRUE(r.cfg.admin.listen);
  EXPECT_EQ(r.cfg.admin.listen->scheme, transport::tls);
  EXPECT_EQ(r.cfg.admin.listen->host, "::1");
  EXPECT_EQ(r.cfg.admin.tls.verify_client, verify_client_mode::require);
  EXPECT_EQ(r.cfg.admin.tls.cert, dir_.path() / "certs" / "server.crt");
  EXPECT_EQ(r.cfg.admin.tls.truststore, dir_.path() / "certs" / "client-ca.crt");
}

TEST_F(config_dir_test, admin_with_cert_only_serves_tls_without_client_certificates) {
  const load_result r = load(std::string(R"(
[admin]
listen = "127.0.0.1:9901"
cert = "certs/server.crt"
key = "certs/server.key"
)") + one_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.admin.tls.verify_client, verify_client_mode::none);
}

TEST_F(config_dir_test, admin_mistakes_are_all_reported_at_their_keys) {
  const load_result r = load(std::string(R"(
[admin]
listen = "http://127.0.0.1:9901"
connect = "tcp://127.0.0.1:1"
key = "certs/missing.key"
)") + one_service);
  ASSERT_EQ(r.errors.size(), 3u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].key, "admin.listen");
  EXPECT_EQ(r.errors[0].where.line, 2);
  EXPECT_NE(r.errors[0].message.find("without a scheme"), std::string::npos) << r.errors[0].message;
  EXPECT_EQ(r.errors[1].key, "admin.connect");
  EXPECT_EQ(r.errors[2].key, "admin.key");
}

TEST_F(config_dir_test, admin_tls_keys_without_listen_or_cert_are_errors) {
  load_result r = load(std::string("[admin]\ntruststore = \"certs/client-ca.crt\"\n") + one_service);
  ASSERT_EQ(r.errors.size(), 1u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].key, "admin.listen");

  r = load(std::string("[admin]\nlisten = \"127.0.0.1:1\"\ntruststore = \"certs/client-ca.crt\"\n") + one_service);
  ASSERT_EQ(r.errors.size(), 1u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].key, "admin.truststore");
  EXPECT_NE(r.errors[0].message.find("admin.cert"), std::string::npos) << r.errors[0].message;

  r = load(std::string("[admin]\nlisten = \"127.0.0.1:1\"\ncert = \"certs/server.crt\"\n") + one_service);
  ASSERT_EQ(r.errors.size(), 1u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].key, "admin.key");
}

}  // namespace
}  // namespace mtlsd::test
