// PROXY protocol keys: proxy_protocol (off|v1|v2) and proxy_protocol_tlvs
// towards the backend, accept_proxy_protocol and proxy_protocol_timeout on
// the listener. All may come from [defaults] and apply to tcp:// and tls://.
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

constexpr const char* plain_service = R"(
[[service]]
name = "p"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
)";

TEST_F(config_dir_test, proxy_protocol_is_off_and_not_accepted_by_default) {
  const load_result r = load(tls_service_head);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const auto& svc = r.cfg.services[0];
  EXPECT_EQ(svc.proxy_protocol, proxy_protocol_version::off);
  EXPECT_FALSE(svc.accept_proxy_protocol);
  EXPECT_EQ(svc.proxy_protocol_timeout, std::chrono::seconds(5));
  // Every TLV but the whole certificate.
  EXPECT_EQ(svc.proxy_protocol_tlvs, (std::vector<std::string>{"alpn", "authority", "ssl", "cert_sha256", "spiffe_id",
                                                               "subject", "issuer", "serial"}));
}

TEST_F(config_dir_test, proxy_protocol_keys_are_read_on_tls_and_tcp_services) {
  const char* keys =
      "proxy_protocol = \"v2\"\nproxy_protocol_tlvs = [\"cert_der\", \"ssl\"]\n"
      "accept_proxy_protocol = true\nproxy_protocol_timeout = \"250ms\"\n";
  for (const char* head : {tls_service_head, plain_service}) {
    const load_result r = load(std::string(head) + keys);
    ASSERT_TRUE(r.ok()) << describe(r.errors);
    const auto& svc = r.cfg.services[0];
    EXPECT_EQ(svc.proxy_protocol, proxy_protocol_version::v2);
    EXPECT_EQ(svc.proxy_protocol_tlvs, (std::vector<std::string>{"cert_der", "ssl"}));
    EXPECT_TRUE(svc.accept_proxy_protocol);
    EXPECT_EQ(svc.proxy_protocol_timeout, std::chrono::milliseconds(250));
  }
}

TEST_F(config_dir_test, proxy_protocol_keys_come_from_defaults_and_the_service_wins) {
  const load_result r = load(std::string("[defaults]\nproxy_protocol = \"v1\"\naccept_proxy_protocol = true\n"
                                         "proxy_protocol_tlvs = []\n") +
                             plain_service + "proxy_protocol = \"v2\"\n");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const auto& svc = r.cfg.services[0];
  EXPECT_EQ(svc.proxy_protocol, proxy_protocol_version::v2);
  EXPECT_TRUE(svc.accept_proxy_protocol);
  EXPECT_TRUE(svc.proxy_protocol_tlvs.empty());
}

TEST_F(config_dir_test, unknown_proxy_protocol_version_lists_the_valid_ones) {
  const load_result r = load(std::string(tls_service_head) + "proxy_protocol = \"v3\"\n");
  EXPECT_TRUE(has_only_error(r, 8, 18, "service[a].proxy_protocol", "must be one of off, v1, v2"));
}

TEST_F(config_dir_test, unknown_or_repeated_tlv_names_are_errors_listing_the_valid_ones) {
  const load_result r = load(std::string(tls_service_head) + "proxy_protocol_tlvs = [\"ssl\", \"sni\", \"ssl\"]\n");
  ASSERT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].key, "service[a].proxy_protocol_tlvs");
  EXPECT_NE(r.errors[0].message.find("alpn, authority, ssl, cert_sha256, spiffe_id, subject, issuer, serial, cert_der"),
            std::string::npos)
      << r.errors[0].message;
  EXPECT_NE(r.errors[0].message.find("sni"), std::string::npos) << r.errors[0].message;
  EXPECT_NE(r.errors[1].message.find("listed twice"), std::string::npos) << r.errors[1].message;
}

TEST_F(config_dir_test, bad_proxy_protocol_values_are_errors_at_their_keys) {
  const load_result r = load(std::string(tls_service_head) +
                             "accept_proxy_protocol = \"yes\"\nproxy_protocol_timeout = \"0s\"\n"
                             "proxy_protocol_tlvs = \"ssl\"\n");
  ASSERT_EQ(r.errors.size(), 3u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].key, "service[a].accept_proxy_protocol");
  EXPECT_EQ(r.errors[1].key, "service[a].proxy_protocol_timeout");
  EXPECT_EQ(r.errors[2].key, "service[a].proxy_protocol_tlvs");
}

TEST_F(config_dir_test, services_sharing_an_address_must_agree_on_accepting_proxy_headers) {
  // The header precedes the ClientHello, so the server name cannot choose.
  const std::string shared =
      std::string(tls_service_head) + "server_names = [\"a.example\"]\n" + "accept_proxy_protocol = true\n" + R"(
[[service]]
name = "b"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
server_names = ["b.example"]
)";
  const load_result r = load(shared);
  ASSERT_EQ(r.errors.size(), 1u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].key, "service[b].accept_proxy_protocol");
  EXPECT_NE(r.errors[0].message.find("must be the same for every service on"), std::string::npos);
  EXPECT_TRUE(load(shared + "accept_proxy_protocol = true\n").ok());
}

}  // namespace
}  // namespace mtlsd::test
