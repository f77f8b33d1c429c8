// Owner: config module tests. The keys of CRLs fetched over HTTP:
// crl_url (one URL or a list, each validated at its own position),
// crl_from_cdp, and [server] crl_cache_dir / crl_refresh_interval — defaults,
// inheritance from [defaults], and where they do not apply.
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

class crl_fetch_keys : public config_dir_test {};

TEST_F(crl_fetch_keys, defaults_fetch_nothing_and_cache_under_var_cache_hourly) {
  const load_result r = load(tls_service_head);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.services[0].crl_url.empty());
  EXPECT_FALSE(r.cfg.services[0].crl_from_cdp);
  EXPECT_EQ(r.cfg.server.crl_cache_dir, "/var/cache/mtlsd/crl");
  EXPECT_EQ(r.cfg.server.crl_refresh_interval, std::chrono::hours(1));
  EXPECT_EQ(r.cfg.services[0].crl_cache_dir, "/var/cache/mtlsd/crl");
}

TEST_F(crl_fetch_keys, one_url_or_a_list_and_the_server_keys) {
  load_result r = load(std::string(R"(
[server]
crl_cache_dir = "cache/crl"
crl_refresh_interval = "15m"
)") + tls_service_head + R"(crl_url = "http://crl.example.com/ca.crl"
crl_from_cdp = true
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.services[0].crl_url, std::vector<std::string>{"http://crl.example.com/ca.crl"});
  EXPECT_TRUE(r.cfg.services[0].crl_from_cdp);
  EXPECT_EQ(r.cfg.server.crl_cache_dir, dir_.path() / "cache/crl");
  EXPECT_EQ(r.cfg.services[0].crl_cache_dir, dir_.path() / "cache/crl");
  EXPECT_EQ(r.cfg.server.crl_refresh_interval, std::chrono::minutes(15));

  r = load(std::string(tls_service_head) + R"(crl_url = ["http://a.example/1.crl", "http://[::1]:8080/2.crl"]
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.services[0].crl_url,
            (std::vector<std::string>{"http://a.example/1.crl", "http://[::1]:8080/2.crl"}));
}

TEST_F(crl_fetch_keys, a_url_that_cannot_be_fetched_is_an_error_at_its_own_element) {
  load_result r = load(std::string(tls_service_head) + R"(crl_url = ["http://a.example/1.crl", "https://a.example/2.crl"]
)");
  EXPECT_TRUE(has_only_error(r, 8, 38, "service[a].crl_url", "https:// is not supported"));
  r = load(std::string(tls_service_head) + R"(crl_url = "ldap://ldap.example/cn=ca"
)");
  EXPECT_TRUE(has_only_error(r, 8, 11, "service[a].crl_url",
                             "invalid CRL URL \"ldap://ldap.example/cn=ca\": expected an http:// URL"));
  r = load(std::string(tls_service_head) + "crl_url = 3\n");
  EXPECT_TRUE(has_only_error(r, 8, 11, "service[a].crl_url", "expected a URL or an array of URLs, got integer"));
  r = load(std::string(tls_service_head) + "crl_from_cdp = \"yes\"\n");
  EXPECT_TRUE(has_only_error(r, 8, 16, "service[a].crl_from_cdp", "expected true or false, got string"));
  r = load(std::string("[server]\ncrl_refresh_interval = \"soon\"\n") + tls_service_head);
  EXPECT_TRUE(has_only_error(r, 2, 24, "server.crl_refresh_interval", ""));
}

TEST_F(crl_fetch_keys, inherited_from_defaults_and_dropped_where_they_do_not_apply) {
  const load_result r = load(R"(
[defaults]
crl_url = "http://crl.example.com/ca.crl"
crl_from_cdp = true

[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"

[[service]]
name = "plain"
accept = "tcp://127.0.0.1:3"
connect = "tcp://127.0.0.1:2"

[[service]]
name = "anonymous"
accept = "tls://127.0.0.1:4"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
verify_client = "none"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.services[0].crl_url, std::vector<std::string>{"http://crl.example.com/ca.crl"});
  EXPECT_TRUE(r.cfg.services[0].crl_from_cdp);
  EXPECT_EQ(r.cfg.services[0].position_of("crl_url").line, 2);
  for (int i : {1, 2}) {
    EXPECT_TRUE(r.cfg.services[i].crl_url.empty()) << i;
    EXPECT_FALSE(r.cfg.services[i].crl_from_cdp) << i;
  }
}

TEST_F(crl_fetch_keys, written_where_they_do_not_apply_they_are_errors) {
  load_result r = load(R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
crl_url = "http://crl.example.com/ca.crl"
)");
  EXPECT_TRUE(has_only_error(r, 5, 11, "service[a].crl_url", "TLS option on a plain tcp:// listener"));
  r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
verify_client = "none"
crl_from_cdp = true
)");
  EXPECT_TRUE(has_only_error(r, 8, 16, "service[a].crl_from_cdp", "has no effect with verify_client = \"none\""));
}

}  // namespace
}  // namespace mtlsd::test
