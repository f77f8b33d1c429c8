// The chain policy checks (chain_policy.hpp) on certificates from the test
// PKI: key strength by type and size, the clientAuth EKU in both modes, and
// name constraints — where every verdict is also compared with OpenSSL's own
// X509_verify_cert, since the check exists to name what OpenSSL refuses.

#include "mtlsd/tls/chain_policy.hpp"

#include <gtest/gtest.h>

#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include "mtlsd/tls/openssl.hpp"
#include "mtlsd/tls/server_context.hpp"
#include "pki.hpp"
#include "tls_test_support.hpp"

namespace mtlsd::test {
namespace {

using tls::chain_check;
using tls::chain_role;

cert_spec with_key(cert_spec spec, key_kind key) {
  spec.key = key;
  return spec;
}

void expect_refused(const chain_check& check, rejection_reason reason, const std::string& detail) {
  EXPECT_FALSE(check.passed) << check.detail;
  EXPECT_EQ(to_string(check.reason), to_string(reason));
  EXPECT_EQ(check.detail, detail);
}

TEST(key_strength, rsa_needs_2048_bits) {
  const issued root = make_self_signed(ca_spec("RSA Root"));
  const issued weak = issue(with_key(leaf_spec("rsa-1024"), key_kind::rsa1024), root);
  const chain_check refused = tls::check_key_strength(weak.cert.get(), chain_role::leaf);
  expect_refused(refused, rejection_reason::weak_key,
                 "leaf key is RSA 1024 bits, below the minimum of 2048 bits for RSA");
  EXPECT_EQ(refused.verify_error, X509_V_ERR_EE_KEY_TOO_SMALL);

  const issued strong = issue(with_key(leaf_spec("rsa-2048"), key_kind::rsa2048), root);
  const chain_check ok = tls::check_key_strength(strong.cert.get(), chain_role::leaf);
  EXPECT_TRUE(ok.passed) << ok.detail;
  EXPECT_EQ(ok.detail, "leaf key is RSA 2048 bits");
}

TEST(key_strength, ec_needs_256_bits_so_p224_is_refused) {
  const issued p224 = make_self_signed(with_key(ca_spec("P-224 CA"), key_kind::ec_p224));
  const chain_check refused = tls::check_key_strength(p224.cert.get(), chain_role::intermediate);
  expect_refused(refused, rejection_reason::weak_key,
                 "intermediate CA key is EC P-224 (224 bits), below the minimum of 256 bits for EC");
  EXPECT_EQ(refused.verify_error, X509_V_ERR_CA_KEY_TOO_SMALL);

  const issued p256 = make_self_signed(ca_spec("P-256 CA"));
  const chain_check ok = tls::check_key_strength(p256.cert.get(), chain_role::anchor);
  EXPECT_TRUE(ok.passed);
  EXPECT_EQ(ok.detail, "trust anchor key is EC P-256 (256 bits)");
}

TEST(key_strength, dsa_is_refused_whatever_its_size) {
  const issued dsa = make_self_signed(with_key(ca_spec("DSA CA"), key_kind::dsa2048));
  const chain_check refused = tls::check_key_strength(dsa.cert.get(), chain_role::anchor);
  expect_refused(refused, rejection_reason::weak_key,
                 "trust anchor key is DSA 2048 bits: DSA keys are refused (accepted: RSA >= 2048 bits, "
                 "EC >= 256 bits, Ed25519, Ed448)");
  EXPECT_EQ(refused.verify_error, X509_V_ERR_CA_KEY_TOO_SMALL);
}

TEST(key_strength, ed25519_is_accepted) {
  const issued root = make_self_signed(with_key(ca_spec("Ed25519 CA"), key_kind::ed25519));
  const issued leaf = issue(with_key(leaf_spec("ed25519"), key_kind::ed25519), root);
  const chain_check ok = tls::check_key_strength(leaf.cert.get(), chain_role::leaf);
  EXPECT_TRUE(ok.passed);
  EXPECT_EQ(ok.detail, "leaf key is Ed25519");
}

TEST(key_strength, roles_follow_the_position_in_the_chain) {
  EXPECT_EQ(tls::role_at(0, 3), chain_role::leaf);
  EXPECT_EQ(tls::role_at(1, 3), chain_role::intermediate);
  EXPECT_EQ(tls::role_at(2, 3), chain_role::anchor);
  EXPECT_EQ(tls::role_at(0, 1), chain_role::leaf);
  EXPECT_EQ(tls::to_string(chain_role::anchor), "trust anchor");
}

TEST(client_auth_eku, required_by_default_so_a_leaf_without_the_extension_is_refused) {
  const issued root = make_self_signed(ca_spec("Root"));
  const issued no_eku = issue(leaf_spec("no-eku", eku_kind::none), root);
  const chain_check refused = tls::check_client_auth_eku(no_eku.cert.get(), true);
  EXPECT_FALSE(refused.passed);
  EXPECT_EQ(refused.reason, rejection_reason::bad_eku);
  EXPECT_EQ(refused.verify_error, X509_V_ERR_INVALID_PURPOSE);
  EXPECT_NE(refused.detail.find("leaf has no extendedKeyUsage extension"), std::string::npos) << refused.detail;
  EXPECT_NE(refused.detail.find("set require_client_auth_eku = false"), std::string::npos) << refused.detail;

  const chain_check relaxed = tls::check_client_auth_eku(no_eku.cert.get(), false);
  EXPECT_TRUE(relaxed.passed) << relaxed.detail;
}

TEST(client_auth_eku, a_present_eku_needs_client_auth_in_both_modes) {
  const issued root = make_self_signed(ca_spec("Root"));
  const issued server_only = issue(leaf_spec("server-only", eku_kind::server_auth), root);
  const issued client = issue(leaf_spec("client", eku_kind::client_auth), root);
  const issued both = issue(leaf_spec("both", eku_kind::both), root);
  for (const bool required : {true, false}) {
    const chain_check refused = tls::check_client_auth_eku(server_only.cert.get(), required);
    EXPECT_FALSE(refused.passed);
    EXPECT_EQ(refused.reason, rejection_reason::bad_eku);
    EXPECT_EQ(refused.detail, "leaf extendedKeyUsage allows serverAuth but not clientAuth");
    EXPECT_TRUE(tls::check_client_auth_eku(client.cert.get(), required).passed);
    EXPECT_TRUE(tls::check_client_auth_eku(both.cert.get(), required).passed);
  }
}

TEST(client_auth_eku, the_service_setting_reaches_the_context) {
  const server_pki pki;
  service_config service = make_service(pki);
  EXPECT_TRUE(must_build(service)->require_client_auth_eku());
  service.require_client_auth_eku = false;
  EXPECT_FALSE(must_build(service)->require_client_auth_eku());
}

TEST(truststore_key_strength, a_weak_ca_is_warned_about_at_load) {
  const server_pki pki;
  const issued weak = make_self_signed(with_key(ca_spec("Weak Client CA"), key_kind::rsa1024));
  write_file(pki.truststore, pki.client_ca.cert_pem() + weak.cert_pem());
  config_errors errors;
  std::vector<std::string> warnings;
  ASSERT_TRUE(tls::server_context::build(make_service(pki), errors, warnings));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0],
            "service svc: truststore CA \"CN=Weak Client CA,O=mtlsd tests\" has a weak key (trust anchor key is RSA "
            "1024 bits, below the minimum of 2048 bits for RSA); clients whose chain ends at it are refused with "
            "weak_key");
}

struct x509_stack_free {
  void operator()(STACK_OF(X509) * stack) const { sk_X509_free(stack); }
};

// A chain (leaf first) as X509_verify_cert builds it, plus OpenSSL's verdict.
struct verified_chain {
  ossl::x509_store_ctx_ptr ctx{X509_STORE_CTX_new()};
  std::unique_ptr<X509_STORE, ossl::deleter<X509_STORE, X509_STORE_free>> store{X509_STORE_new()};
  std::unique_ptr<STACK_OF(X509), x509_stack_free> untrusted{sk_X509_new_null()};
  int openssl_error = X509_V_OK;

  verified_chain(const issued& leaf, const std::vector<const issued*>& intermediates, const issued& root) {
    X509_STORE_add_cert(store.get(), root.cert.get());
    for (const issued* i : intermediates) sk_X509_push(untrusted.get(), i->cert.get());
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf.cert.get(), untrusted.get());
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
    if (X509_verify_cert(ctx.get()) != 1) openssl_error = X509_STORE_CTX_get_error(ctx.get());
  }
  STACK_OF(X509) * chain() const { return X509_STORE_CTX_get0_chain(ctx.get()); }
};

class name_constraints : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new issued(make_self_signed(ca_spec("Root")));
    cert_spec partner = ca_spec("Partner CA");
    partner.permitted_names = {"dns:.partner.example"};
    partner.excluded_names = {"ip:10.9.0.0/16", "email:blocked.example"};
    partner_ = new issued(issue(partner, *root_));
  }
  static void TearDownTestSuite() {
    delete partner_;
    delete root_;
    partner_ = root_ = nullptr;
  }

  // Checks the leaf (index 0) and asserts OpenSSL reached the same verdict.
  static chain_check check(const cert_spec& spec) {
    const issued leaf = issue(spec, *partner_);
    verified_chain v(leaf, {partner_}, *root_);
    const chain_check ours = tls::check_name_constraints(v.chain(), 0);
    EXPECT_EQ(ours.passed, v.openssl_error == X509_V_OK) << ours.detail << " / OpenSSL: "
                                                         << X509_verify_cert_error_string(v.openssl_error);
    if (!ours.passed) {
      EXPECT_EQ(ours.verify_error, v.openssl_error);
    }
    return ours;
  }

  static inline issued* root_ = nullptr;
  static inline issued* partner_ = nullptr;
};

TEST_F(name_constraints, a_leaf_inside_the_permitted_subtree_passes) {
  cert_spec spec = leaf_spec("api.partner.example");
  spec.dns = {"api.partner.example", "x.y.partner.example"};
  spec.ip = {"10.1.2.3"};
  const chain_check ok = check(spec);
  EXPECT_TRUE(ok.passed) << ok.detail;
  EXPECT_EQ(ok.detail, "every name is within the nameConstraints of 1 CA(s) above it");
}

TEST_F(name_constraints, a_dns_name_outside_is_named_with_the_constraining_ca) {
  cert_spec spec = leaf_spec("client");
  spec.dns = {"api.partner.example", "api.other.example"};
  const chain_check refused = check(spec);
  expect_refused(refused, rejection_reason::name_constraints,
                 "DNS name \"api.other.example\" is outside the permitted subtrees of CA \"CN=Partner CA,O=mtlsd "
                 "tests\" (permitted: DNS:.partner.example)");
  EXPECT_EQ(refused.verify_error, X509_V_ERR_PERMITTED_VIOLATION);
}

TEST_F(name_constraints, an_ip_in_an_excluded_range_is_refused) {
  cert_spec spec = leaf_spec("client");
  spec.dns = {"api.partner.example"};
  spec.ip = {"10.9.8.7"};
  const chain_check refused = check(spec);
  expect_refused(refused, rejection_reason::name_constraints,
                 "IP address 10.9.8.7 is inside an excluded subtree of CA \"CN=Partner CA,O=mtlsd tests\" "
                 "(excluded: IP:10.9.0.0/16, email:blocked.example)");
  EXPECT_EQ(refused.verify_error, X509_V_ERR_EXCLUDED_VIOLATION);
}

TEST_F(name_constraints, an_email_in_an_excluded_domain_is_refused) {
  cert_spec spec = leaf_spec("client");
  spec.dns = {"api.partner.example"};
  spec.email = {"ops@blocked.example"};
  const chain_check refused = check(spec);
  EXPECT_FALSE(refused.passed);
  EXPECT_NE(refused.detail.find("email \"ops@blocked.example\" is inside an excluded subtree"), std::string::npos)
      << refused.detail;
}

TEST_F(name_constraints, without_a_dns_san_the_cn_is_checked_as_a_dns_name) {
  const chain_check refused = check(leaf_spec("host.other.example"));
  EXPECT_FALSE(refused.passed);
  EXPECT_NE(refused.detail.find("CN of subject \"CN=host.other.example\" (checked as a DNS name: no DNS SAN)"),
            std::string::npos)
      << refused.detail;
  EXPECT_TRUE(check(leaf_spec("host.partner.example")).passed);
  // A CN that is no host name is not constrained by DNS subtrees.
  EXPECT_TRUE(check(leaf_spec("partner client")).passed);
}

TEST_F(name_constraints, a_chain_without_constraints_passes_and_says_so) {
  const issued leaf = issue(leaf_spec("anyone.example"), *root_);
  verified_chain v(leaf, {}, *root_);
  ASSERT_EQ(v.openssl_error, X509_V_OK);
  const chain_check ok = tls::check_name_constraints(v.chain(), 0);
  EXPECT_TRUE(ok.passed);
  EXPECT_EQ(ok.detail, "no CA above it has nameConstraints");
}

TEST_F(name_constraints, an_intermediate_is_bound_by_the_constraints_above_it) {
  cert_spec sub = ca_spec("Sub CA");
  sub.dns = {"ca.other.example"};
  const issued sub_ca = issue(sub, *partner_);
  const issued leaf = issue([] {
    cert_spec s = leaf_spec("client");
    s.dns = {"api.partner.example"};
    return s;
  }(), sub_ca);
  verified_chain v(leaf, {&sub_ca, partner_}, *root_);
  EXPECT_EQ(v.openssl_error, X509_V_ERR_PERMITTED_VIOLATION);
  EXPECT_EQ(X509_STORE_CTX_get_error_depth(v.ctx.get()), 1);
  EXPECT_TRUE(tls::check_name_constraints(v.chain(), 0).passed);
  const chain_check refused = tls::check_name_constraints(v.chain(), 1);
  EXPECT_FALSE(refused.passed);
  EXPECT_NE(refused.detail.find("DNS name \"ca.other.example\" is outside the permitted subtrees of CA \"CN=Partner CA"),
            std::string::npos)
      << refused.detail;
}

}  // namespace
}  // namespace mtlsd::test
