// The client-certificate whitelist on literal identities (no OpenSSL): what
// each rule kind admits, and the refusals users rely on for safety.

#include "mtlsd/identity/policy.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mtlsd {
namespace {

using namespace std::string_literals;

const std::string fp_a = "3a5f" + std::string(60, '0');
const std::string fp_b = "b4" + std::string(62, '1');

bool admits(const allow_rules& rules, const client_identity& id) { return admit(id, allow_policy(rules)).allowed; }

client_identity with_cn(std::vector<std::string> cn) {
  client_identity id;
  id.cn = std::move(cn);
  return id;
}

client_identity with_dns(std::vector<std::string> dns) {
  client_identity id;
  id.dns = std::move(dns);
  return id;
}

client_identity with_uri(std::vector<std::string> uri) {
  client_identity id;
  id.uri = std::move(uri);
  return id;
}

allow_rules dns_rules(std::vector<std::string> dns) {
  allow_rules r;
  r.dns = std::move(dns);
  return r;
}

allow_rules uri_rules(std::vector<std::string> uri) {
  allow_rules r;
  r.uri = std::move(uri);
  return r;
}

TEST(allow_policy, without_rules_admits_everything_as_any) {
  client_identity id = with_cn({"whoever"});
  const allow_policy none;
  EXPECT_FALSE(none.restricts());
  const auto a = admit(id, none);
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.detail, "any");

  // An [allow] table whose lists are all empty restricts nothing either.
  const allow_policy empty{allow_rules{}};
  EXPECT_FALSE(empty.restricts());
  EXPECT_TRUE(admit(client_identity{}, empty).allowed);
  EXPECT_EQ(admit(client_identity{}, empty).detail, "any");
}

TEST(allow_policy, any_rule_restricts_and_rules_are_kept) {
  allow_rules r;
  r.email = {"a@example.org"};
  const allow_policy p(r);
  EXPECT_TRUE(p.restricts());
  EXPECT_EQ(p.rules().email, r.email);
  EXPECT_FALSE(admit(client_identity{}, p).allowed);
}

TEST(allow_policy, cn_exact_and_case_sensitive) {
  allow_rules r;
  r.cn = {"partner-a", "partner-c"};
  const auto hit = admit(with_cn({"partner-a"}), allow_policy(r));
  EXPECT_TRUE(hit.allowed);
  EXPECT_EQ(hit.detail, R"(cn="partner-a")");
  EXPECT_TRUE(admits(r, with_cn({"partner-c"})));
  EXPECT_FALSE(admits(r, with_cn({"partner-b"})));
  EXPECT_FALSE(admits(r, with_cn({"Partner-A"})));
  EXPECT_FALSE(admits(r, with_cn({"partner-a "})));
  EXPECT_FALSE(admits(r, with_cn({"partner"})));
  EXPECT_FALSE(admits(r, with_cn({})));
}

TEST(allow_policy, several_cns_never_match_a_cn_rule) {
  allow_rules r;
  r.cn = {"partner-a", "partner-b"};
  const auto a = admit(with_cn({"partner-a", "partner-b"}), allow_policy(r));
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.detail, R"(cn=["partner-a","partner-b"] (2 CNs: CN rules need exactly one))");
  EXPECT_FALSE(admits(r, with_cn({"partner-a", "partner-a"})));
  // ... but other fields of such a certificate are still compared.
  r.ou = {"ops"};
  auto id = with_cn({"partner-a", "x"});
  id.ou = {"ops"};
  EXPECT_TRUE(admits(r, id));
}

TEST(allow_policy, ou_and_o_match_any_of_several_values_case_sensitively) {
  allow_rules r;
  r.ou = {"payments"};
  r.o = {"Partner Corp"};
  client_identity id;
  id.ou = {"ops", "payments"};
  const auto ou_hit = admit(id, allow_policy(r));
  EXPECT_TRUE(ou_hit.allowed);
  EXPECT_EQ(ou_hit.detail, R"(ou="payments")");
  id.ou = {"Payments"};
  EXPECT_FALSE(admits(r, id));

  id.ou = {};
  id.o = {"Partner Corp"};
  const auto o_hit = admit(id, allow_policy(r));
  EXPECT_TRUE(o_hit.allowed);
  EXPECT_EQ(o_hit.detail, R"(o="Partner Corp")");
  id.o = {"partner corp"};
  EXPECT_FALSE(admits(r, id));
}

TEST(allow_policy, dns_exact_is_case_insensitive) {
  const auto r = dns_rules({"API.Partner.Example"});
  const auto a = admit(with_dns({"api.partner.EXAMPLE"}), allow_policy(r));
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.detail, R"(dns="api.partner.example")");
  EXPECT_FALSE(admits(r, with_dns({"x.api.partner.example"})));
  EXPECT_FALSE(admits(r, with_dns({"partner.example"})));
  EXPECT_FALSE(admits(r, with_dns({"api.partner.example."})));
}

TEST(allow_policy, dns_wildcard_matches_exactly_one_leftmost_label) {
  const auto r = dns_rules({"*.partner.example"});
  const auto a = admit(with_dns({"a.partner.example"}), allow_policy(r));
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.detail, R"(dns="*.partner.example")");
  EXPECT_TRUE(admits(r, with_dns({"B-2.PARTNER.example"})));
  EXPECT_TRUE(admits(dns_rules({"*.Partner.EXAMPLE"}), with_dns({"a.partner.example"})));

  EXPECT_FALSE(admits(r, with_dns({"b.a.partner.example"})));  // two labels
  EXPECT_FALSE(admits(r, with_dns({".partner.example"})));     // empty label
  EXPECT_FALSE(admits(r, with_dns({"partner.example"})));      // bare suffix
  EXPECT_FALSE(admits(r, with_dns({"apartner.example"})));
  EXPECT_FALSE(admits(r, with_dns({"a.partner.example.evil"})));
  EXPECT_FALSE(admits(r, with_dns({"a.partner.example."})));
}

TEST(allow_policy, a_wildcard_in_the_certificate_is_only_matched_literally) {
  // The certificate claims "*.partner.example": that is not one host under
  // partner.example, so the wildcard rule must not admit it.
  EXPECT_FALSE(admits(dns_rules({"*.partner.example"}), with_dns({"*.partner.example"})));
  EXPECT_FALSE(admits(dns_rules({"*.partner.example"}), with_dns({"a*.partner.example"})));
  EXPECT_FALSE(admits(dns_rules({"*.example"}), with_dns({"*.example"})));
  // A rule spelled with '*' elsewhere is an exact rule, matched identically.
  EXPECT_TRUE(admits(dns_rules({"a*.partner.example"}), with_dns({"A*.partner.example"})));
  EXPECT_FALSE(admits(dns_rules({"a*.partner.example"}), with_dns({"ab.partner.example"})));
}

TEST(allow_policy, uri_exact_is_case_sensitive_and_not_a_prefix) {
  const auto r = uri_rules({"spiffe://example.org/svc"});
  const auto a = admit(with_uri({"spiffe://example.org/svc"}), allow_policy(r));
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.detail, R"(uri="spiffe://example.org/svc")");
  EXPECT_FALSE(admits(r, with_uri({"spiffe://example.org/svc/x"})));
  EXPECT_FALSE(admits(r, with_uri({"spiffe://example.org/Svc"})));
  EXPECT_FALSE(admits(r, with_uri({"spiffe://example.org/svcX"})));
}

TEST(allow_policy, uri_prefix_rule_matches_below_the_slash_only) {
  const auto r = uri_rules({"spiffe://example.org/partner/*"});
  const auto a = admit(with_uri({"spiffe://example.org/partner/a"}), allow_policy(r));
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.detail, R"(uri="spiffe://example.org/partner/*")");
  EXPECT_TRUE(admits(r, with_uri({"spiffe://example.org/partner/a/b/c"})));
  EXPECT_TRUE(admits(r, with_uri({"spiffe://example.org/partner/*"})));

  EXPECT_FALSE(admits(r, with_uri({"spiffe://example.org/partner"})));
  EXPECT_FALSE(admits(r, with_uri({"spiffe://example.org/partner/"})));  // nothing after the prefix
  EXPECT_FALSE(admits(r, with_uri({"spiffe://example.org/partnerX/a"})));
  EXPECT_FALSE(admits(r, with_uri({"spiffe://example.org/Partner/a"})));
  EXPECT_FALSE(admits(r, with_uri({"spiffe://example.org/other/partner/a"})));
  EXPECT_FALSE(admits(r, with_uri({""})));
}

TEST(allow_policy, uri_prefix_rules_of_different_depths_all_apply) {
  const auto r = uri_rules({"spiffe://a.org/x/*", "spiffe://b.org/p/q/r/s/*", "spiffe://c.org/exact"});
  EXPECT_TRUE(admits(r, with_uri({"spiffe://a.org/x/y/z/w/v/u/t"})));  // deeper than the longest rule
  EXPECT_TRUE(admits(r, with_uri({"spiffe://b.org/p/q/r/s/t"})));
  EXPECT_FALSE(admits(r, with_uri({"spiffe://b.org/p/q/r/t"})));
  EXPECT_TRUE(admits(r, with_uri({"spiffe://c.org/exact"})));
  // The second URI of a certificate counts too.
  EXPECT_TRUE(admits(r, with_uri({"urn:x", "spiffe://a.org/x/1"})));
}

TEST(allow_policy, ip_v4_and_v6_compare_normalised_text) {
  allow_rules r;
  r.ip = {"10.1.2.3", "2001:0DB8:0:0:0:0:0:1"};
  client_identity id;
  id.ip = {"10.1.2.3"};
  const auto a = admit(id, allow_policy(r));
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.detail, R"(ip="10.1.2.3")");
  id.ip = {"2001:db8::1"};
  EXPECT_TRUE(admits(r, id));
  id.ip = {"10.1.2.4"};
  EXPECT_FALSE(admits(r, id));
  id.ip = {"2001:db8::2"};
  EXPECT_FALSE(admits(r, id));
  id.ip = {"::ffff:10.1.2.3"};  // v4-mapped is a different SAN value
  EXPECT_FALSE(admits(r, id));
  id.ip = {"invalid:0a0102"};
  EXPECT_FALSE(admits(r, id));
}

TEST(allow_policy, email_is_exact_and_case_sensitive) {
  allow_rules r;
  r.email = {"ops@partner.example"};
  client_identity id;
  id.email = {"ops@partner.example"};
  EXPECT_TRUE(admits(r, id));
  id.email = {"Ops@partner.example"};
  EXPECT_FALSE(admits(r, id));
  id.email = {"ops@partner.example.evil"};
  EXPECT_FALSE(admits(r, id));
}

TEST(allow_policy, sha256_pins_the_fingerprint) {
  allow_rules r;
  r.sha256 = {fp_a};
  client_identity id;
  id.sha256 = fp_a;
  const auto a = admit(id, allow_policy(r));
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.detail, "sha256=" + fp_a);
  id.sha256 = fp_b;
  EXPECT_FALSE(admits(r, id));
  id.sha256 = "";
  EXPECT_FALSE(admits(r, id));
}

TEST(allow_policy, any_entry_of_any_field_admits) {
  allow_rules r;
  r.cn = {"partner-a"};
  r.dns = {"*.partner.example"};
  r.sha256 = {fp_a};
  client_identity id;
  id.cn = {"someone-else"};
  id.dns = {"x.other.example", "y.partner.example"};
  id.sha256 = fp_b;
  const auto a = admit(id, allow_policy(r));
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.detail, R"(dns="*.partner.example")");
  id.dns = {};
  id.sha256 = fp_a;
  EXPECT_TRUE(admits(r, id));
  id.sha256 = fp_b;
  EXPECT_FALSE(admits(r, id));
}

TEST(allow_policy, a_value_with_an_embedded_nul_never_matches) {
  // Each rule set contains the exact NUL-bearing value too, so only the NUL
  // rule can be what refuses it.
  const std::string evil_cn = "partner-a\0.evil"s;
  allow_rules r;
  r.cn = {"partner-a", evil_cn};
  EXPECT_FALSE(admits(r, with_cn({evil_cn})));

  client_identity id;
  r = {};
  r.ou = {"ops\0"s};
  id.ou = {"ops\0"s};
  EXPECT_FALSE(admits(r, id));
  r = {};
  r.o = {"\0Org"s};
  id = {};
  id.o = {"\0Org"s};
  EXPECT_FALSE(admits(r, id));

  EXPECT_FALSE(admits(dns_rules({"a.partner.example", "a.partner.example\0.evil"s}),
                      with_dns({"a.partner.example\0.evil"s})));
  EXPECT_FALSE(admits(dns_rules({"*.partner.example"}), with_dns({"a\0.partner.example"s})));
  EXPECT_FALSE(admits(uri_rules({"spiffe://e.org/p/*", "spiffe://e.org/x\0"s}), with_uri({"spiffe://e.org/x\0"s})));
  EXPECT_FALSE(admits(uri_rules({"spiffe://e.org/p/*"}), with_uri({"spiffe://e.org/p/a\0b"s})));

  r = {};
  r.ip = {"10.0.0.1\0"s};
  id = {};
  id.ip = {"10.0.0.1\0"s};
  EXPECT_FALSE(admits(r, id));
  r = {};
  r.email = {"a@b\0"s};
  id = {};
  id.email = {"a@b\0"s};
  EXPECT_FALSE(admits(r, id));
  // The undecodable marker extraction uses starts with NUL for this reason.
  r = {};
  r.cn = {"\0undecodable:ff"s};
  EXPECT_FALSE(admits(r, with_cn({"\0undecodable:ff"s})));
}

TEST(allow_policy, refusal_lists_every_value_of_every_field_with_rules) {
  allow_rules r;
  r.cn = {"partner-a"};
  r.ou = {"payments"};
  r.sha256 = {fp_a};
  client_identity id;
  id.cn = {"partner-b"};
  id.ou = {"ops"};
  id.o = {"not compared"};
  id.dns = {"not.compared"};
  id.sha256 = fp_b;
  const auto a = admit(id, allow_policy(r));
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.detail, R"(cn=["partner-b"] ou=["ops"] sha256=)" + fp_b);

  allow_rules all;
  all.cn = {"x"};
  all.ou = {"x"};
  all.o = {"x"};
  all.dns = {"x"};
  all.uri = {"x"};
  all.ip = {"10.0.0.9"};
  all.email = {"x"};
  all.sha256 = {fp_a};
  client_identity full;
  full.cn = {"c"};
  full.dns = {"d1", "d2"};
  full.ip = {"::1"};
  EXPECT_EQ(admit(full, allow_policy(all)).detail,
            R"(cn=["c"] ou=[] o=[] dns=["d1","d2"] uri=[] ip=["::1"] email=[] sha256=none)");
}

TEST(allow_policy, refusal_detail_is_safe_to_log) {
  allow_rules r;
  r.cn = {"partner-a"};
  r.uri = {"spiffe://x/*"};
  client_identity id;
  id.cn = {"partner-a\0.evil"s};
  id.uri = {"a\"b\\c\x01\x7f\n\xff", "caf\xc3\xa9"};
  const auto a = admit(id, allow_policy(r));
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.detail,
            R"(cn=["partner-a\0.evil"] uri=["a\"b\\c\x01\x7f\x0a\xff","café"] (values containing NUL never match))");
  for (const char c : a.detail) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_FALSE(u < 0x20 || u == 0x7f) << "raw control byte in detail";
  }
}

}  // namespace
}  // namespace mtlsd
