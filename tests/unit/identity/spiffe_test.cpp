// SPIFFE in the whitelist: the SPIFFE ID syntax, the X.509-SVID rules a leaf
// must keep once a service has spiffe_* rules (each one broken in turn, on
// literal identities and on real certificates), and which SVIDs the
// spiffe_trust_domain / spiffe_id rules admit.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mtlsd/identity/identity.hpp"
#include "mtlsd/identity/policy.hpp"
#include "mtlsd/identity/spiffe_id.hpp"
#include "pki.hpp"

namespace mtlsd {
namespace {

using test::cert_spec;
using test::issued;
using test::key_usage_kind;

// What a well-formed SVID leaf looks like once extracted.
client_identity svid(std::string id) {
  client_identity c;
  c.cn = {"workload"};
  c.uri = {std::move(id)};
  c.has_key_usage = true;
  c.key_usage = key_usage_bit::digital_signature;
  return c;
}

allow_rules spiffe_rules(std::vector<std::string> domains, std::vector<std::string> ids) {
  allow_rules r;
  r.spiffe_trust_domain = std::move(domains);
  r.spiffe_id = std::move(ids);
  return r;
}

TEST(spiffe_id, valid_ids_and_their_trust_domain) {
  for (const char* id : {"spiffe://example.org", "spiffe://example.org/ns/prod/sa/api", "spiffe://a-b_c.9/A.b-C_d",
                         "spiffe://x/..a/a..", "spiffe://x/.a"}) {
    std::string_view domain;
    EXPECT_EQ(spiffe_id_problem(id, &domain), "") << id;
    EXPECT_EQ(std::string(domain), std::string(id).substr(9, std::string(id).find('/', 9) - 9)) << id;
  }
}

TEST(spiffe_id, invalid_ids_say_why) {
  EXPECT_EQ(spiffe_id_problem("spiffe://example.org/a/"), "path must not end with '/'");
  EXPECT_EQ(spiffe_id_problem("spiffe://example.org/a/./b"), "path must not have \".\" segments");
  EXPECT_EQ(spiffe_id_problem("spiffe://exa\xc3\xa9mple.org"),
            "trust domain may only contain a-z, 0-9, '.', '-' and '_' (found byte 0xc3)");
  EXPECT_EQ(spiffe_id_problem(std::string("spiffe://example.org/a\0b", 24)),
            "path may only contain letters, digits, '.', '-' and '_' (found byte 0x00)");
  EXPECT_EQ(spiffe_id_problem("Spiffe://example.org"), "scheme must be written \"spiffe://\" in lowercase");
  EXPECT_EQ(spiffe_id_problem("spiffe://" + std::string(256, 'a')), "trust domain is longer than 255 bytes");
  EXPECT_EQ(spiffe_id_problem("spiffe://a/" + std::string(2037, 'b')), "");
  EXPECT_EQ(spiffe_id_problem("spiffe://a/" + std::string(2037, 'b') + "c"), "longer than 2048 bytes (2049)");
}

TEST(svid_rules, a_well_formed_leaf_keeps_them_all) {
  EXPECT_EQ(svid_violation(svid("spiffe://example.org/ns/prod/sa/api")), "");
  client_identity with_more_usages = svid("spiffe://example.org/x");
  with_more_usages.key_usage |= key_usage_bit::key_encipherment | key_usage_bit::key_agreement;
  EXPECT_EQ(svid_violation(with_more_usages), "");
}

TEST(svid_rules, each_rule_broken_is_named_with_the_values_seen) {
  client_identity none = svid("x");
  none.uri.clear();
  EXPECT_EQ(svid_violation(none), "expected exactly one URI SAN, found 0");

  client_identity two = svid("spiffe://example.org/a");
  two.uri.push_back("spiffe://example.org/b");
  EXPECT_EQ(svid_violation(two),
            "expected exactly one URI SAN, found 2: uri=[\"spiffe://example.org/a\",\"spiffe://example.org/b\"]");

  EXPECT_EQ(svid_violation(svid("https://example.org/a")),
            "URI SAN \"https://example.org/a\" is not a valid SPIFFE ID: must start with \"spiffe://\"");
  EXPECT_EQ(svid_violation(svid("spiffe://example.org/a?b")),
            "URI SAN \"spiffe://example.org/a?b\" is not a valid SPIFFE ID: must not have a query ('?')");

  client_identity ca = svid("spiffe://example.org/a");
  ca.is_ca = true;
  EXPECT_EQ(svid_violation(ca), "basicConstraints has cA=TRUE: an SVID leaf must not be a CA certificate");

  client_identity no_ku = svid("spiffe://example.org/a");
  no_ku.has_key_usage = false;
  no_ku.key_usage = 0;
  EXPECT_EQ(svid_violation(no_ku),
            "keyUsage extension is missing: an SVID leaf needs keyUsage with digitalSignature");

  client_identity no_signature = svid("spiffe://example.org/a");
  no_signature.key_usage = key_usage_bit::key_encipherment;
  EXPECT_EQ(svid_violation(no_signature), "keyUsage=keyEncipherment lacks digitalSignature");

  for (const std::uint16_t ca_bit : {key_usage_bit::key_cert_sign, key_usage_bit::crl_sign}) {
    client_identity signer = svid("spiffe://example.org/a");
    signer.key_usage |= ca_bit;
    EXPECT_EQ(svid_violation(signer), "keyUsage=" + key_usage_names(signer.key_usage) +
                                          " has keyCertSign or cRLSign, which an SVID leaf must not");
  }
}

TEST(svid_rules, key_usage_names_follow_rfc_5280) {
  EXPECT_EQ(key_usage_names(0), "none");
  EXPECT_EQ(key_usage_names(key_usage_bit::digital_signature | key_usage_bit::key_cert_sign |
                            key_usage_bit::crl_sign | key_usage_bit::decipher_only),
            "digitalSignature,keyCertSign,cRLSign,decipherOnly");
}

TEST(spiffe_policy, trust_domain_rule_admits_every_id_of_that_domain_only) {
  const allow_policy policy(spiffe_rules({"example.org"}, {}));
  EXPECT_TRUE(policy.restricts());
  const admission hit = admit(svid("spiffe://example.org/ns/prod/sa/api"), policy);
  EXPECT_TRUE(hit.allowed);
  EXPECT_EQ(hit.detail, "spiffe_trust_domain=\"example.org\"");
  EXPECT_TRUE(admit(svid("spiffe://example.org"), policy).allowed);

  for (const char* other : {"spiffe://example.org.evil/x", "spiffe://sub.example.org/x", "spiffe://examplexorg/x"}) {
    const admission miss = admit(svid(other), policy);
    EXPECT_FALSE(miss.allowed) << other;
    EXPECT_FALSE(miss.invalid_svid) << other;
  }
  const admission miss = admit(svid("spiffe://other.org/ns/prod"), policy);
  EXPECT_EQ(miss.detail, "spiffe_id=\"spiffe://other.org/ns/prod\" spiffe_trust_domain=\"other.org\"");
}

TEST(spiffe_policy, id_rules_match_exactly_or_by_path_prefix) {
  const allow_policy policy(
      spiffe_rules({}, {"spiffe://example.org/ns/prod/sa/api", "spiffe://example.org/ns/stage/*"}));
  const admission exact = admit(svid("spiffe://example.org/ns/prod/sa/api"), policy);
  EXPECT_TRUE(exact.allowed);
  EXPECT_EQ(exact.detail, "spiffe_id=\"spiffe://example.org/ns/prod/sa/api\"");
  const admission prefix = admit(svid("spiffe://example.org/ns/stage/sa/web"), policy);
  EXPECT_TRUE(prefix.allowed);
  EXPECT_EQ(prefix.detail, "spiffe_id=\"spiffe://example.org/ns/stage/*\"");

  for (const char* miss : {"spiffe://example.org/ns/prod/sa/api2", "spiffe://example.org/ns/prod/sa",
                           "spiffe://example.org/ns/stage", "spiffe://example.org/ns/stagex/a",
                           "spiffe://other.org/ns/stage/a", "spiffe://example.org/NS/stage/a"}) {
    EXPECT_FALSE(admit(svid(miss), policy).allowed) << miss;
  }
}

TEST(spiffe_policy, a_trust_domain_prefix_rule_admits_every_path_but_not_the_bare_domain) {
  const allow_policy policy(spiffe_rules({}, {"spiffe://example.org/*"}));
  EXPECT_TRUE(admit(svid("spiffe://example.org/x"), policy).allowed);
  EXPECT_TRUE(admit(svid("spiffe://example.org/ns/prod/sa/api"), policy).allowed);
  EXPECT_FALSE(admit(svid("spiffe://example.org"), policy).allowed);
  EXPECT_FALSE(admit(svid("spiffe://example.org.evil/x"), policy).allowed);
}

TEST(spiffe_policy, any_rule_of_any_field_admits_a_valid_svid) {
  allow_rules rules = spiffe_rules({"example.org"}, {});
  rules.cn = {"legacy-client"};
  const allow_policy policy(rules);
  client_identity by_cn = svid("spiffe://other.org/x");
  by_cn.cn = {"legacy-client"};
  const admission a = admit(by_cn, policy);
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.detail, "cn=\"legacy-client\"");
  EXPECT_TRUE(admit(svid("spiffe://example.org/x"), policy).allowed);
  EXPECT_FALSE(admit(svid("spiffe://other.org/x"), policy).allowed);
}

TEST(spiffe_policy, spiffe_rules_judge_only_svids_and_other_fields_still_admit) {
  allow_rules rules = spiffe_rules({"example.org"}, {});
  rules.cn = {"legacy-client"};
  const allow_policy policy(rules);
  // A client no SPIFFE rule is meant for is admitted by the CN rule...
  client_identity legacy;
  legacy.cn = {"legacy-client"};
  legacy.has_key_usage = true;
  legacy.key_usage = key_usage_bit::digital_signature;
  const admission a = admit(legacy, policy);
  EXPECT_TRUE(a.allowed) << a.detail;
  EXPECT_EQ(a.detail, "cn=\"legacy-client\"");

  // ...and when nothing admits a leaf that is no SVID, the broken SVID rule is the reason.
  legacy.cn = {"someone-else"};
  const admission not_svid = admit(legacy, policy);
  EXPECT_FALSE(not_svid.allowed);
  EXPECT_TRUE(not_svid.invalid_svid);
  EXPECT_EQ(not_svid.detail, "expected exactly one URI SAN, found 0");

  client_identity ca = svid("spiffe://example.org/x");
  ca.is_ca = true;
  const admission refused = admit(ca, policy);
  EXPECT_FALSE(refused.allowed);
  EXPECT_TRUE(refused.invalid_svid);
}

TEST(spiffe_policy, without_spiffe_rules_the_svid_rules_do_not_apply) {
  allow_rules rules;
  rules.uri = {"spiffe://example.org/*"};
  client_identity two_uris = svid("spiffe://example.org/a");
  two_uris.uri.push_back("https://example.org/b");
  two_uris.is_ca = true;
  const admission a = admit(two_uris, allow_policy(rules));
  EXPECT_TRUE(a.allowed);
  EXPECT_FALSE(a.invalid_svid);
}

// The same rules on certificates from the test PKI, through extraction.
class svid_certificates : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cert_spec spec;
    spec.cn = {"SPIFFE CA"};
    spec.is_ca = true;
    spec.uri = {"spiffe://example.org"};
    ca_ = new issued(test::make_self_signed(spec));
  }
  static void TearDownTestSuite() {
    delete ca_;
    ca_ = nullptr;
  }
  static client_identity leaf(const cert_spec& spec) {
    return extract_identity(test::issue(spec, *ca_).cert.get());
  }
  static cert_spec svid_spec() {
    cert_spec spec;
    spec.cn = {};
    spec.o = {"SPIRE"};
    spec.uri = {"spiffe://example.org/ns/prod/sa/api"};
    return spec;
  }
  static inline issued* ca_ = nullptr;
};

TEST_F(svid_certificates, constraints_and_key_usage_are_extracted) {
  const client_identity plain = leaf(svid_spec());
  EXPECT_FALSE(plain.is_ca);
  EXPECT_TRUE(plain.has_key_usage);
  EXPECT_EQ(plain.key_usage, key_usage_bit::digital_signature);

  cert_spec rsa = svid_spec();
  rsa.key = test::key_kind::rsa2048;
  EXPECT_EQ(leaf(rsa).key_usage, key_usage_bit::digital_signature | key_usage_bit::key_encipherment);

  const client_identity ca = extract_identity(ca_->cert.get());
  EXPECT_TRUE(ca.is_ca);
  EXPECT_EQ(ca.key_usage, key_usage_bit::key_cert_sign | key_usage_bit::crl_sign);

  cert_spec none = svid_spec();
  none.key_usage = std::vector<key_usage_kind>{};
  const client_identity without = leaf(none);
  EXPECT_FALSE(without.has_key_usage);
  EXPECT_EQ(without.key_usage, 0);
}

TEST_F(svid_certificates, each_rule_broken_by_a_real_leaf) {
  const allow_policy policy(spiffe_rules({"example.org"}, {}));
  EXPECT_TRUE(admit(leaf(svid_spec()), policy).allowed);

  struct broken {
    const char* name;
    void (*shape)(cert_spec&);
    const char* detail;
  };
  const broken cases[] = {
      {"no URI SAN", [](cert_spec& s) { s.uri.clear(); }, "expected exactly one URI SAN, found 0"},
      {"two URI SANs", [](cert_spec& s) { s.uri.push_back("spiffe://example.org/ns/prod/sa/other"); },
       "expected exactly one URI SAN, found 2"},
      {"not a SPIFFE ID", [](cert_spec& s) { s.uri = {"https://example.org/api"}; },
       "is not a valid SPIFFE ID: must start with \"spiffe://\""},
      {"CA certificate",
       [](cert_spec& s) {
         s.is_ca = true;
         s.key_usage = std::vector<key_usage_kind>{key_usage_kind::digital_signature};
       },
       "basicConstraints has cA=TRUE"},
      {"no keyUsage", [](cert_spec& s) { s.key_usage = std::vector<key_usage_kind>{}; },
       "keyUsage extension is missing"},
      {"no digitalSignature",
       [](cert_spec& s) { s.key_usage = std::vector<key_usage_kind>{key_usage_kind::key_agreement}; },
       "keyUsage=keyAgreement lacks digitalSignature"},
      {"keyCertSign",
       [](cert_spec& s) {
         s.key_usage = std::vector<key_usage_kind>{key_usage_kind::digital_signature, key_usage_kind::key_cert_sign};
       },
       "keyUsage=digitalSignature,keyCertSign has keyCertSign or cRLSign"},
      {"cRLSign",
       [](cert_spec& s) {
         s.key_usage = std::vector<key_usage_kind>{key_usage_kind::digital_signature, key_usage_kind::crl_sign};
       },
       "keyUsage=digitalSignature,cRLSign has keyCertSign or cRLSign"},
  };
  for (const auto& c : cases) {
    cert_spec spec = svid_spec();
    c.shape(spec);
    const admission a = admit(leaf(spec), policy);
    EXPECT_FALSE(a.allowed) << c.name;
    EXPECT_TRUE(a.invalid_svid) << c.name;
    EXPECT_NE(a.detail.find(c.detail), std::string::npos) << c.name << ": " << a.detail;
  }
}

}  // namespace
}  // namespace mtlsd
