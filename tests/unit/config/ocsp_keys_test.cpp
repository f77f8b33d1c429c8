// Owner: config module tests. ocsp, ocsp_url and ocsp_timeout: defaults,
// values, inheritance from [defaults], and every error.
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

class ocsp_keys : public config_dir_test {};

TEST_F(ocsp_keys, off_by_default_with_a_three_second_timeout) {
  const load_result r = load(tls_service_head);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.services[0].ocsp, ocsp_mode::off);
  EXPECT_TRUE(r.cfg.services[0].ocsp_url.empty());
  EXPECT_EQ(r.cfg.services[0].ocsp_timeout, std::chrono::seconds(3));
}

TEST_F(ocsp_keys, values_are_read_and_inherited_from_defaults) {
  const load_result r = load(R"(
[defaults]
ocsp = "hard"
ocsp_timeout = "1500ms"
)" + std::string(tls_service_head).substr(1) + R"(ocsp_url = "http://ocsp.example.com:8080/")");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const service_config& s = r.cfg.services[0];
  EXPECT_EQ(s.ocsp, ocsp_mode::hard);
  EXPECT_EQ(s.ocsp_url, "http://ocsp.example.com:8080/");
  EXPECT_EQ(s.ocsp_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(s.position_of("ocsp").line, 2);
}

TEST_F(ocsp_keys, every_bad_value_is_reported) {
  const load_result r = load(std::string(tls_service_head) + R"(ocsp = "strict"
ocsp_url = "https://ocsp.example.com/"
ocsp_timeout = "0s"
)");
  EXPECT_EQ(r.errors.size(), 3u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 8, 8, "service[a].ocsp", "\"strict\""));
  EXPECT_TRUE(has_error(r, 9, 12, "service[a].ocsp_url", "https:// is not supported"));
  EXPECT_TRUE(has_error(r, 10, 16, "service[a].ocsp_timeout", ""));
}

TEST_F(ocsp_keys, not_on_a_plain_listener) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
ocsp = "soft"
)");
  EXPECT_TRUE(has_only_error(r, 5, 8, "service[a].ocsp", "TLS option on a plain tcp:// listener"));
}

}  // namespace
}  // namespace mtlsd::test
