// server_context::build() with `keystore` and store truststores: the chain
// and key come from the chosen entry, and every problem is an error on the
// key to fix — the password's key for a wrong password, keystore_alias for
// an unknown alias, keystore for an ambiguous store or JCEKS.

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <cstdlib>

#include "java_stores.hpp"
#include "mtlsd/tls/server_context.hpp"
#include "tls_test_support.hpp"

namespace mtlsd::test {
namespace {

struct build_result {
  std::shared_ptr<const tls::server_context> context;
  config_errors errors;
  std::vector<std::string> warnings;

  std::string describe() const {
    std::string text;
    for (const auto& e : errors) text += "\n  error: " + e.to_string();
    for (const auto& w : warnings) text += "\n  warning: " + w;
    return text;
  }
};

build_result build(const service_config& service) {
  build_result r;
  r.context = tls::server_context::build(service, r.errors, r.warnings);
  return r;
}

// A PEM-configured service switched to a keystore, keys at known positions.
class keystore_context : public ::testing::Test {
 protected:
  keystore_context() {
    service.cert.clear();
    service.key.clear();
    service.keystore = stores.keytool_jks();
    service.keystore_password_file = stores.password_file();
    service.positions["keystore"] = {"mtlsd.toml", 6, 12};
    service.positions["keystore_password_file"] = {"mtlsd.toml", 7, 26};
    service.positions["keystore_alias"] = {"mtlsd.toml", 8, 18};
    service.positions["truststore"] = {"mtlsd.toml", 9, 14};
  }

  ::testing::AssertionResult one_error(const build_result& r, const std::string& key, int line,
                                       const std::string& message) {
    if (r.context || r.errors.size() != 1)
      return ::testing::AssertionFailure() << "expected exactly one error:" << r.describe();
    const auto& e = r.errors[0];
    if (e.key != "service[svc]." + key || e.where.line != line || e.message.find(message) == std::string::npos)
      return ::testing::AssertionFailure() << "expected service[svc]." << key << " at line " << line << ": ..."
                                           << message << "...; got:" << r.describe();
    return ::testing::AssertionSuccess();
  }

  java_stores& stores = java_stores::shared();
  server_pki pki;
  service_config service = make_service(pki);
};

TEST_F(keystore_context, serves_the_chain_of_the_keystore_entry) {
  for (const auto& file : {stores.keytool_jks(), stores.keytool_p12(), stores.openssl_p12()}) {
    service.keystore = file;
    const auto r = build(service);
    ASSERT_TRUE(r.context) << file << r.describe();
    EXPECT_TRUE(r.warnings.empty()) << r.describe();
    EXPECT_EQ(r.context->server_certificate().subject, "CN=localhost");
    EXPECT_EQ(r.context->server_certificate().issuer, "CN=mtlsd test keystore intermediate");
    EXPECT_EQ(r.context->keystore_alias(), "server");
    SSL_CTX* ctx = r.context->native();
    EXPECT_EQ(X509_cmp(SSL_CTX_get0_certificate(ctx), stores.server_leaf().cert.get()), 0);
    STACK_OF(X509)* chain = nullptr;
    ASSERT_EQ(SSL_CTX_get0_chain_certs(ctx, &chain), 1);
    ASSERT_EQ(sk_X509_num(chain), 1);
    EXPECT_EQ(X509_cmp(sk_X509_value(chain, 0), stores.server_intermediate().cert.get()), 0);
    EXPECT_EQ(EVP_PKEY_eq(SSL_CTX_get0_privatekey(ctx), stores.server_leaf().key.get()), 1);
  }
}

TEST_F(keystore_context, password_from_the_environment) {
  service.keystore_password_file.clear();
  service.keystore_password_env = "MTLSD_TEST_KEYSTORE_PASSWORD";
  service.positions["keystore_password_env"] = {"mtlsd.toml", 7, 25};
  ::unsetenv("MTLSD_TEST_KEYSTORE_PASSWORD");
  EXPECT_TRUE(one_error(build(service), "keystore_password_env", 7,
                        "environment variable MTLSD_TEST_KEYSTORE_PASSWORD is not set"));
  ::setenv("MTLSD_TEST_KEYSTORE_PASSWORD", "", 1);
  EXPECT_TRUE(one_error(build(service), "keystore_password_env", 7, "MTLSD_TEST_KEYSTORE_PASSWORD is empty"));
  ::setenv("MTLSD_TEST_KEYSTORE_PASSWORD", java_stores::password, 1);
  const auto r = build(service);
  EXPECT_TRUE(r.context) << r.describe();
  ::unsetenv("MTLSD_TEST_KEYSTORE_PASSWORD");
}

TEST_F(keystore_context, wrong_password_is_an_error_on_the_password_key_naming_the_file) {
  write_file(pki.dir / "wrong.pass", "not-the-password\n");
  service.keystore_password_file = pki.dir / "wrong.pass";
  for (const auto& file : {stores.keytool_jks(), stores.keytool_p12()}) {
    service.keystore = file;
    const auto r = build(service);
    ASSERT_TRUE(one_error(r, "keystore_password_file", 7, "wrong password: integrity check failed"));
    EXPECT_NE(r.errors[0].message.find(file.string()), std::string::npos) << r.errors[0].message;
    EXPECT_NE(r.errors[0].message.find("wrong.pass"), std::string::npos) << r.errors[0].message;
  }
}

TEST_F(keystore_context, several_keys_need_an_alias_and_an_unknown_alias_lists_them) {
  service.keystore = stores.two_keys_jks();
  EXPECT_TRUE(one_error(build(service), "keystore", 6, "holds 2 private-key entries ('first', 'second')"));
  service.keystore_alias = "third";
  EXPECT_TRUE(one_error(build(service), "keystore_alias", 8, "its private-key entries: 'first', 'second'"));
  service.keystore_alias = "second";
  const auto r = build(service);
  ASSERT_TRUE(r.context) << r.describe();
  EXPECT_EQ(r.context->server_certificate().subject, "CN=second");
  EXPECT_EQ(r.context->keystore_alias(), "second");
}

TEST_F(keystore_context, jceks_is_refused_with_the_conversion_command) {
  service.keystore = stores.jceks();
  EXPECT_TRUE(one_error(build(service), "keystore", 6,
                        "JCEKS keystores are not supported; convert with keytool -importkeystore -srckeystore " +
                            stores.jceks().string() + " -srcstoretype JCEKS"));
}

TEST_F(keystore_context, a_pem_file_is_not_a_keystore) {
  service.keystore = stores.server_chain_file();
  EXPECT_TRUE(
      one_error(build(service), "keystore", 6, "is not a PKCS#12 or JKS keystore (for PEM files use cert and key)"));
}

TEST_F(keystore_context, store_truststores_hold_their_trusted_entries) {
  for (const auto& file : {stores.truststore_jks(), stores.truststore_p12()}) {
    service.truststore = file;
    service.truststore_password_file = stores.password_file();
    const auto r = build(service);
    ASSERT_TRUE(r.context) << file << r.describe();
    EXPECT_TRUE(r.warnings.empty()) << r.describe();
    ASSERT_EQ(r.context->truststore_size(), 1u);
    EXPECT_EQ(r.context->trusted_cas()[0].subject, "CN=mtlsd test keystore client CA");
  }
}

TEST_F(keystore_context, a_store_truststore_needs_its_password) {
  service.truststore = stores.truststore_p12();
  EXPECT_TRUE(one_error(build(service), "truststore", 9, "set truststore_password_file or truststore_password_env"));
  write_file(pki.dir / "wrong.pass", "nope\n");
  service.truststore_password_file = pki.dir / "wrong.pass";
  service.positions["truststore_password_file"] = {"mtlsd.toml", 10, 28};
  EXPECT_TRUE(one_error(build(service), "truststore_password_file", 10, "wrong password: integrity check failed"));
}

TEST_F(keystore_context, a_keystore_as_truststore_uses_only_trusted_entries_and_warns) {
  service.truststore = stores.key_and_trusted_p12();
  service.truststore_password_file = stores.password_file();
  const auto r = build(service);
  ASSERT_TRUE(r.context) << r.describe();
  EXPECT_EQ(r.context->truststore_size(), 1u);
  ASSERT_EQ(r.warnings.size(), 1u) << r.describe();
  EXPECT_NE(r.warnings[0].find("holds private-key entries ('server'); only its trusted-certificate entries are used"),
            std::string::npos)
      << r.warnings[0];

  service.truststore = stores.keytool_p12();  // a key and its chain, nothing trusted
  EXPECT_TRUE(one_error(build(service), "truststore", 9, "holds no trusted-certificate entries"));
}

}  // namespace
}  // namespace mtlsd::test
