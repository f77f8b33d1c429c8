// Owner: config module tests. The revocation keys as config: crl (one path
// or a list, each checked for existence at its own position), crl_stale,
// ocsp_staple_file and reevaluate_live, their defaults, inheritance from
// [defaults], and where they do not apply. The files' contents are parsed
// by the TLS module (tests/unit/tls/crl_test.cpp, revocation_test.cpp).
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

class revocation_keys : public config_dir_test {
 protected:
  revocation_keys() {
    dir_.write("crl/root.crl");
    dir_.write("crl/intermediate.crl");
    dir_.write("ocsp/server.der");
  }
};

TEST_F(revocation_keys, defaults_check_nothing_reject_stale_lists_staple_nothing_and_reevaluate) {
  const load_result r = load(tls_service_head);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const service_config& s = r.cfg.services[0];
  EXPECT_TRUE(s.crl.empty());
  EXPECT_EQ(s.crl_stale, crl_stale_mode::reject);
  EXPECT_TRUE(s.ocsp_staple_file.empty());
  EXPECT_TRUE(s.reevaluate_live);
}

TEST_F(revocation_keys, one_path_or_a_list_resolved_against_the_config_directory) {
  load_result r = load(std::string(tls_service_head) + R"(crl = "crl/root.crl"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  ASSERT_EQ(r.cfg.services[0].crl.size(), 1u);
  EXPECT_EQ(r.cfg.services[0].crl[0], dir_.path() / "crl/root.crl");
  EXPECT_EQ(r.cfg.services[0].position_of("crl").line, 8);

  r = load(std::string(tls_service_head) + R"(crl = ["crl/root.crl", "crl/intermediate.crl"]
crl_stale = "warn"
ocsp_staple_file = "ocsp/server.der"
reevaluate_live = false
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const service_config& s = r.cfg.services[0];
  ASSERT_EQ(s.crl.size(), 2u);
  EXPECT_EQ(s.crl[0], dir_.path() / "crl/root.crl");
  EXPECT_EQ(s.crl[1], dir_.path() / "crl/intermediate.crl");
  EXPECT_EQ(s.crl_stale, crl_stale_mode::warn);
  EXPECT_EQ(s.ocsp_staple_file, dir_.path() / "ocsp/server.der");
  EXPECT_FALSE(s.reevaluate_live);
}

TEST_F(revocation_keys, a_missing_crl_file_is_an_error_at_its_own_element) {
  const load_result r = load(std::string(tls_service_head) + R"(crl = ["crl/root.crl", "crl/missing.crl"]
)");
  EXPECT_TRUE(has_only_error(r, 8, 24, "service[a].crl", "file not found: crl/missing.crl"));
}

TEST_F(revocation_keys, wrong_types_and_values_are_errors) {
  load_result r = load(std::string(tls_service_head) + "crl = 3\n");
  EXPECT_TRUE(has_only_error(r, 8, 7, "service[a].crl", "expected a path or an array of paths, got integer"));
  r = load(std::string(tls_service_head) + "crl = [\"crl/root.crl\", 3]\n");
  EXPECT_TRUE(has_only_error(r, 8, 24, "service[a].crl", "expected a string, got integer"));
  r = load(std::string(tls_service_head) + "crl_stale = \"ignore\"\n");
  EXPECT_TRUE(has_only_error(r, 8, 13, "service[a].crl_stale", "must be one of reject, warn (got \"ignore\")"));
  r = load(std::string(tls_service_head) + "reevaluate_live = \"yes\"\n");
  EXPECT_TRUE(has_only_error(r, 8, 19, "service[a].reevaluate_live", "expected true or false, got string"));
  r = load(std::string(tls_service_head) + "ocsp_staple_file = \"ocsp/none.der\"\n");
  EXPECT_TRUE(has_only_error(r, 8, 20, "service[a].ocsp_staple_file", "file not found"));
}

TEST_F(revocation_keys, an_empty_list_means_no_crl_and_overrides_defaults) {
  const load_result r = load(R"(
[defaults]
crl = "crl/root.crl"
crl_stale = "warn"

[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
crl = []

[[service]]
name = "b"
accept = "tls://127.0.0.1:3"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.services[0].crl.empty());
  EXPECT_EQ(r.cfg.services[0].crl_stale, crl_stale_mode::warn);
  ASSERT_EQ(r.cfg.services[1].crl.size(), 1u);
  EXPECT_EQ(r.cfg.services[1].crl[0], dir_.path() / "crl/root.crl");
  EXPECT_EQ(r.cfg.services[1].position_of("crl").line, 2);
}

TEST_F(revocation_keys, a_missing_file_in_defaults_is_reported_once_where_written) {
  const load_result r = load(R"(
[defaults]
crl = "crl/missing.crl"

[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
)");
  EXPECT_TRUE(has_only_error(r, 2, 7, "defaults.crl", "file not found"));
}

TEST_F(revocation_keys, tls_only_keys_on_a_plain_listener_are_errors_when_written_there) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
crl = "crl/root.crl"
)");
  EXPECT_TRUE(has_only_error(r, 5, 7, "service[a].crl", "TLS option on a plain tcp:// listener"));
}

TEST_F(revocation_keys, inherited_tls_keys_do_not_apply_to_a_plain_listener) {
  const load_result r = load(R"(
[defaults]
crl = "crl/root.crl"
reevaluate_live = false

[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.services[0].crl.empty());
  EXPECT_TRUE(r.cfg.services[0].reevaluate_live);
}

TEST_F(revocation_keys, crl_without_client_certificates_is_an_error_when_written_in_the_service) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
verify_client = "none"
crl = "crl/root.crl"
)");
  EXPECT_TRUE(has_only_error(r, 8, 7, "service[a].crl", "has no effect with verify_client = \"none\""));
}

TEST_F(revocation_keys, crl_from_defaults_is_dropped_for_a_service_without_client_certificates) {
  const load_result r = load(R"(
[defaults]
crl = "crl/root.crl"

[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
verify_client = "none"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.services[0].crl.empty());
}

TEST_F(revocation_keys, the_admin_endpoint_has_no_crl) {
  const load_result r = load(R"(
[admin]
listen = "127.0.0.1:9901"
crl = "crl/root.crl"

[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
)");
  EXPECT_TRUE(has_only_error(r, 3, 1, "admin.crl", "unknown key"));
}

}  // namespace
}  // namespace mtlsd::test
