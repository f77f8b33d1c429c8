// Owner: config module tests. [service.allow]: each field's syntax, the
// normalised forms stored, and the refusal of an empty whitelist.
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

// The [service.allow] header is on line 8 and its first field on line 9.
constexpr std::string_view service_head = R"(
[[service]]
name = "p"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
[service.allow]
)";

class whitelist_rules : public config_dir_test {
 protected:
  load_result load_allow(std::string_view allow_body) const {
    return load(std::string(service_head) + std::string(allow_body));
  }
};

TEST_F(whitelist_rules, sha256_accepts_colons_spaces_and_any_case) {
  const std::string hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  const load_result r = load_allow(
      "sha256 = [\"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\", "
      "\"00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\", "
      "\"0011 2233 4455 6677 8899 aabb ccdd eeff 0011 2233 4455 6677 8899 aabb ccdd eeff\"]\n");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.services[0].allow->sha256, (std::vector<std::string>{hex, hex, hex}));
}

TEST_F(whitelist_rules, sha256_must_be_64_hex_digits) {
  const load_result r = load_allow(R"(sha256 = ["3A:5F", "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
  "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00"]
)");
  EXPECT_EQ(r.errors.size(), 3u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 9, 11, "service[p].allow.sha256",
                        "not a SHA-256 fingerprint: expected 64 hex digits (got \"3A:5F\")"));
  EXPECT_TRUE(has_error(r, 9, 20, "service[p].allow.sha256", "not a SHA-256 fingerprint: expected 64 hex digits"));
  EXPECT_TRUE(has_error(r, 10, 3, "service[p].allow.sha256", "not a SHA-256 fingerprint: expected 64 hex digits"));
}

TEST_F(whitelist_rules, ip_is_stored_in_canonical_form) {
  const load_result r = load_allow(R"(ip = ["10.1.2.3", "2001:DB8:0:0::1", "::FFFF:10.0.0.1"]
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.services[0].allow->ip, (std::vector<std::string>{"10.1.2.3", "2001:db8::1", "::ffff:10.0.0.1"}));
}

TEST_F(whitelist_rules, ip_must_parse) {
  const load_result r = load_allow(R"(ip = ["10.1.2", "10.0.0.0/8", "host.example"]
)");
  EXPECT_EQ(r.errors.size(), 3u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 9, 7, "service[p].allow.ip", "not an IP address: \"10.1.2\""));
  EXPECT_TRUE(has_error(r, 9, 17, "service[p].allow.ip", "not an IP address: \"10.0.0.0/8\""));
  EXPECT_TRUE(has_error(r, 9, 31, "service[p].allow.ip", "not an IP address: \"host.example\""));
}

TEST_F(whitelist_rules, dns_wildcard_only_as_the_whole_leftmost_label) {
  const load_result ok = load_allow(R"(dns = ["*.partner.example", "Exact.Example"]
)");
  ASSERT_TRUE(ok.ok()) << describe(ok.errors);
  EXPECT_EQ(ok.cfg.services[0].allow->dns, (std::vector<std::string>{"*.partner.example", "Exact.Example"}));

  const load_result r = load_allow(R"(dns = ["a*.b", "*", "x.*.y", "*.", "*.*.example"]
)");
  EXPECT_EQ(r.errors.size(), 5u) << describe(r.errors);
  const std::string why = ": '*' is only allowed as the whole leftmost label (\"*.example.com\")";
  EXPECT_TRUE(has_error(r, 9, 8, "service[p].allow.dns", "invalid DNS pattern \"a*.b\"" + why));
  EXPECT_TRUE(has_error(r, 9, 16, "service[p].allow.dns", "invalid DNS pattern \"*\"" + why));
  EXPECT_TRUE(has_error(r, 9, 21, "service[p].allow.dns", "invalid DNS pattern \"x.*.y\"" + why));
  EXPECT_TRUE(has_error(r, 9, 30, "service[p].allow.dns", "invalid DNS pattern \"*.\"" + why));
  EXPECT_TRUE(has_error(r, 9, 36, "service[p].allow.dns", "invalid DNS pattern \"*.*.example\"" + why));
}

TEST_F(whitelist_rules, uri_prefix_only_with_a_trailing_slash_star) {
  const load_result ok = load_allow(R"(uri = ["spiffe://example.org/partner/*", "spiffe://example.org/exact"]
)");
  ASSERT_TRUE(ok.ok()) << describe(ok.errors);
  EXPECT_EQ(ok.cfg.services[0].allow->uri.size(), 2u);

  const load_result r = load_allow(R"(uri = ["spiffe://*/x", "spiffe://a/b*", "*"]
)");
  EXPECT_EQ(r.errors.size(), 3u) << describe(r.errors);
  const std::string why = ": '*' is only allowed as a trailing \"/*\" (prefix match)";
  EXPECT_TRUE(has_error(r, 9, 8, "service[p].allow.uri", "invalid URI pattern \"spiffe://*/x\"" + why));
  EXPECT_TRUE(has_error(r, 9, 24, "service[p].allow.uri", "invalid URI pattern \"spiffe://a/b*\"" + why));
  EXPECT_TRUE(has_error(r, 9, 41, "service[p].allow.uri", "invalid URI pattern \"*\"" + why));
}

TEST_F(whitelist_rules, empty_strings_are_rejected_in_every_field) {
  const load_result r = load_allow(R"(cn = [""]
ou = [""]
o = [""]
dns = [""]
uri = [""]
ip = [""]
email = [""]
sha256 = [""]
)");
  EXPECT_EQ(r.errors.size(), 8u) << describe(r.errors);
  int line = 9;
  for (const char* field : {"cn", "ou", "o", "dns", "uri", "ip", "email", "sha256"}) {
    const int column = static_cast<int>(std::string(field).size()) + 5;
    EXPECT_TRUE(has_error(r, line, column, "service[p].allow." + std::string(field), "empty string is not a valid entry"));
    ++line;
  }
}

TEST_F(whitelist_rules, fields_are_arrays_of_strings) {
  const load_result r = load_allow(R"(cn = "partner-a"
ou = ["a", 1, true]
)");
  EXPECT_EQ(r.errors.size(), 3u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 9, 6, "service[p].allow.cn", "expected an array of strings, got string"));
  EXPECT_TRUE(has_error(r, 10, 12, "service[p].allow.ou", "expected a string, got integer"));
  EXPECT_TRUE(has_error(r, 10, 15, "service[p].allow.ou", "expected a string, got boolean"));
  EXPECT_EQ(r.cfg.services[0].allow->ou, std::vector<std::string>{"a"});
}

TEST_F(whitelist_rules, unknown_field_suggests_the_closest) {
  const load_result r = load_allow(R"(cn = ["a"]
sha265 = ["x"]
subject = ["y"]
)");
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 10, 1, "service[p].allow.sha265", "unknown key; did you mean \"sha256\"?"));
  EXPECT_TRUE(has_error(r, 11, 1, "service[p].allow.subject", "unknown key"));
}

TEST_F(whitelist_rules, empty_whitelist_is_refused) {
  constexpr std::string_view message =
      "empty whitelist admits nobody; remove [service.allow] to admit any certificate from the truststore";
  EXPECT_TRUE(has_only_error(load_allow(""), 8, 1, "service[p].allow", message));
  EXPECT_TRUE(has_only_error(load_allow("cn = []\ndns = []\n"), 8, 1, "service[p].allow", message));
}

TEST_F(whitelist_rules, empty_defaults_whitelist_is_refused_under_its_own_name) {
  const load_result r = load(R"(
[defaults.allow]
cn = []
[[service]]
name = "p"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
)");
  EXPECT_TRUE(has_only_error(
      r, 1, 1, "defaults.allow",
      "empty whitelist admits nobody; remove [defaults.allow] to admit any certificate from the truststore"));
}

TEST_F(whitelist_rules, allow_must_be_a_table) {
  const load_result r = load(std::string(service_head).substr(0, service_head.size() - 16) + "allow = [\"cn\"]\n");
  EXPECT_TRUE(has_only_error(r, 8, 9, "service[p].allow", "expected a table, got array"));
}

TEST_F(whitelist_rules, text_fields_are_kept_as_written) {
  const load_result r = load_allow(R"(cn = ["Partner A", "partner-a"]
ou = ["Payments"]
o = ["Example Corp"]
email = ["ops@example.org"]
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const allow_rules& a = *r.cfg.services[0].allow;
  EXPECT_EQ(a.cn, (std::vector<std::string>{"Partner A", "partner-a"}));
  EXPECT_EQ(a.ou, std::vector<std::string>{"Payments"});
  EXPECT_EQ(a.o, std::vector<std::string>{"Example Corp"});
  EXPECT_EQ(a.email, std::vector<std::string>{"ops@example.org"});
  EXPECT_EQ(a.size(), 5u);
}

}  // namespace
}  // namespace mtlsd::test
