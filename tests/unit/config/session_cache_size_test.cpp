// session_cache_size: how many sessions a service keeps in memory when it has
// no session_ticket_key_file. An integer from 0 (keep none) to 1,000,000,
// inherited from [defaults], TLS-only like the other session keys.
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

constexpr const char* tls_service = R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
)";

TEST_F(config_dir_test, session_cache_size_defaults_to_5000) {
  const load_result r = load(tls_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.services[0].session_cache_size, 5000u);
}

TEST_F(config_dir_test, session_cache_size_is_read_and_zero_is_allowed) {
  load_result r = load(std::string(tls_service) + "session_cache_size = 0\n");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.services[0].session_cache_size, 0u);
  r = load(std::string("[defaults]\nsession_cache_size = 123\n") + tls_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.services[0].session_cache_size, 123u);
}

TEST_F(config_dir_test, session_cache_size_out_of_range_or_wrong_type_is_an_error_at_the_key) {
  for (const char* bad : {"session_cache_size = -1\n", "session_cache_size = 1000001\n",
                          "session_cache_size = \"5000\"\n"}) {
    const load_result r = load(std::string(tls_service) + bad);
    ASSERT_EQ(r.errors.size(), 1u) << bad << describe(r.errors);
    EXPECT_EQ(r.errors[0].key, "service[a].session_cache_size") << bad;
    EXPECT_EQ(r.errors[0].where.line, 8) << bad;  // load() drops the leading newline
  }
}

TEST_F(config_dir_test, session_cache_size_on_a_plain_tcp_service_is_an_error) {
  const load_result r = load(R"(
[[service]]
name = "plain"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
session_cache_size = 10
)");
  ASSERT_EQ(r.errors.size(), 1u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].key, "service[plain].session_cache_size");
}

}  // namespace
}  // namespace mtlsd::test
