// server_context::build(): what `mtlsd check` and start-up report about a
// service's certificate, key and truststore files — errors on the key that
// named the file, at the position it was written, all of them at once.

#include "mtlsd/tls/server_context.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tls_test_support.hpp"

namespace mtlsd::test {
namespace {

struct build_result {
  std::shared_ptr<const tls::server_context> context;
  config_errors errors;
  std::vector<std::string> warnings;
};

build_result build(const service_config& service) {
  build_result r;
  r.context = tls::server_context::build(service, r.errors, r.warnings);
  return r;
}

std::string all_errors(const config_errors& errors) {
  std::string text;
  for (const auto& e : errors) text += "\n  " + e.to_string();
  return text;
}

std::string all_warnings(const std::vector<std::string>& warnings) {
  std::string text;
  for (const auto& w : warnings) text += "\n  " + w;
  return text;
}

class server_context_build : public ::testing::Test {
 protected:
  server_pki pki;
  service_config service = make_service(pki);
};

TEST_F(server_context_build, valid_service_builds_and_summarises_the_server_certificate) {
  service.verify_depth = 3;
  const auto r = build(service);
  ASSERT_TRUE(r.context) << all_errors(r.errors);
  EXPECT_TRUE(r.errors.empty()) << all_errors(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << all_warnings(r.warnings);

  const auto& summary = r.context->server_certificate();
  EXPECT_EQ(summary.subject, "CN=localhost");
  EXPECT_EQ(summary.issuer, "CN=Test Server CA,O=mtlsd tests");
  EXPECT_EQ(summary.not_after, utc_text(X509_get0_notAfter(pki.server.cert.get())));
  EXPECT_FALSE(summary.expired);
  EXPECT_EQ(r.context->truststore_size(), 1u);
  EXPECT_EQ(r.context->service_name(), "svc");
  EXPECT_EQ(r.context->verify_mode(), verify_client_mode::require);
  EXPECT_EQ(r.context->verify_depth(), 3);
  EXPECT_NE(r.context->native(), nullptr);
}

TEST_F(server_context_build, key_of_another_certificate_is_one_error_on_key) {
  const issued other = make_self_signed(leaf_spec("someone else", eku_kind::server_auth));
  write_file(pki.dir / "other.key", other.key_pem());
  service.key = pki.dir / "other.key";
  service.positions["key"] = {"conf/mtlsd.toml", 14, 7};

  const auto r = build(service);
  EXPECT_FALSE(r.context);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r.errors);
  const auto& e = r.errors[0];
  EXPECT_EQ(e.key, "service[svc].key");
  EXPECT_NE(e.message.find("does not match"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("other.key"), std::string::npos) << e.message;
  EXPECT_EQ(e.where.file, "conf/mtlsd.toml");
  EXPECT_EQ(e.where.line, 14);
  EXPECT_EQ(e.where.column, 7);
}

TEST_F(server_context_build, key_of_another_type_is_one_error_on_key) {
  // An RSA key for an EC certificate: OpenSSL files them in different slots,
  // so only the explicit key/certificate check can notice.
  cert_spec spec = leaf_spec("rsa", eku_kind::server_auth);
  spec.key = key_kind::rsa2048;
  const issued other = make_self_signed(spec);
  write_file(pki.dir / "rsa.key", other.key_pem());
  service.key = pki.dir / "rsa.key";

  const auto r = build(service);
  EXPECT_FALSE(r.context);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r.errors);
  EXPECT_EQ(r.errors[0].key, "service[svc].key");
  EXPECT_NE(r.errors[0].message.find("does not match"), std::string::npos) << r.errors[0].message;
}

class encrypted_key : public server_context_build {
 protected:
  void SetUp() override {
    write_file(pki.dir / "encrypted.key", pki.server.key_pem_encrypted("correct horse"));
    service.key = pki.dir / "encrypted.key";
    service.positions["key"] = {"mtlsd.toml", 5, 1};
    service.positions["key_password_file"] = {"mtlsd.toml", 6, 1};
  }
};

TEST_F(encrypted_key, loads_with_the_right_password_file) {
  // Written the way `echo password > file` writes it: with a newline.
  write_file(pki.dir / "password", "correct horse\n");
  service.key_password_file = pki.dir / "password";
  const auto r = build(service);
  EXPECT_TRUE(r.context) << all_errors(r.errors);
  EXPECT_TRUE(r.errors.empty()) << all_errors(r.errors);
}

TEST_F(encrypted_key, wrong_password_is_a_clear_error_on_key) {
  write_file(pki.dir / "password", "battery staple\n");
  service.key_password_file = pki.dir / "password";
  const auto r = build(service);
  EXPECT_FALSE(r.context);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r.errors);
  const auto& e = r.errors[0];
  EXPECT_EQ(e.key, "service[svc].key");
  EXPECT_EQ(e.where.line, 5);
  EXPECT_NE(e.message.find("encrypted.key"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("key_password_file"), std::string::npos) << e.message;
}

TEST_F(encrypted_key, without_password_file_the_error_names_key_password_file) {
  const auto r = build(service);
  EXPECT_FALSE(r.context);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r.errors);
  const auto& e = r.errors[0];
  EXPECT_EQ(e.key, "service[svc].key");
  EXPECT_NE(e.message.find("encrypted.key"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("key_password_file"), std::string::npos) << e.message;
}

TEST_F(encrypted_key, unreadable_password_file_is_an_error_on_key_password_file) {
  service.key_password_file = pki.dir / "no-such-password";
  const auto r = build(service);
  EXPECT_FALSE(r.context);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r.errors);
  EXPECT_EQ(r.errors[0].key, "service[svc].key_password_file");
  EXPECT_EQ(r.errors[0].where.line, 6);
  EXPECT_NE(r.errors[0].message.find("no-such-password"), std::string::npos) << r.errors[0].message;
}

TEST_F(server_context_build, truststore_directory_holds_every_ca_of_every_file) {
  const issued second_ca = make_self_signed(ca_spec("Second Client CA"));
  write_file(pki.dir / "trust" / "a.pem", pki.client_ca.cert_pem());
  write_file(pki.dir / "trust" / "b.pem", second_ca.cert_pem());
  service.truststore = pki.dir / "trust";
  const auto r = build(service);
  ASSERT_TRUE(r.context) << all_errors(r.errors);
  EXPECT_EQ(r.context->truststore_size(), 2u);
}

TEST_F(server_context_build, truststore_bundle_counts_every_certificate) {
  const issued second_ca = make_self_signed(ca_spec("Second Client CA"));
  write_file(pki.truststore, pki.client_ca.cert_pem() + second_ca.cert_pem());
  const auto r = build(service);
  ASSERT_TRUE(r.context) << all_errors(r.errors);
  EXPECT_EQ(r.context->truststore_size(), 2u);
}

TEST_F(server_context_build, truststore_that_is_not_pem_is_an_error_on_truststore) {
  write_file(pki.dir / "garbage.crt", "this is not a certificate\n");
  service.truststore = pki.dir / "garbage.crt";
  service.positions["truststore"] = {"mtlsd.toml", 9, 3};
  const auto r = build(service);
  EXPECT_FALSE(r.context);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r.errors);
  EXPECT_EQ(r.errors[0].key, "service[svc].truststore");
  EXPECT_EQ(r.errors[0].where.line, 9);
  EXPECT_EQ(r.errors[0].where.column, 3);
  EXPECT_NE(r.errors[0].message.find("garbage.crt"), std::string::npos) << r.errors[0].message;
}

TEST_F(server_context_build, expired_server_certificate_builds_with_a_warning) {
  cert_spec spec = leaf_spec("localhost", eku_kind::server_auth);
  spec.not_before = -std::chrono::hours(48);
  spec.not_after = -std::chrono::hours(1);
  const issued expired = issue(spec, pki.server_ca);
  write_file(pki.cert, expired.cert_pem());
  write_file(pki.key, expired.key_pem());

  const auto r = build(service);
  ASSERT_TRUE(r.context) << all_errors(r.errors);
  EXPECT_TRUE(r.context->server_certificate().expired);
  ASSERT_EQ(r.warnings.size(), 1u) << all_warnings(r.warnings);
  EXPECT_NE(r.warnings[0].find("expired"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[0].find(utc_text(X509_get0_notAfter(expired.cert.get()))), std::string::npos)
      << r.warnings[0];
}

TEST_F(server_context_build, server_certificate_from_the_client_ca_gets_the_two_ca_warning) {
  const issued from_client_ca = issue(leaf_spec("localhost", eku_kind::server_auth), pki.client_ca);
  write_file(pki.cert, from_client_ca.cert_pem());
  write_file(pki.key, from_client_ca.key_pem());

  const auto r = build(service);
  ASSERT_TRUE(r.context) << all_errors(r.errors);
  ASSERT_EQ(r.warnings.size(), 1u) << all_warnings(r.warnings);
  EXPECT_NE(r.warnings[0].find("separate CAs"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[0].find("svc"), std::string::npos) << r.warnings[0];
}

TEST_F(server_context_build, several_problems_are_all_reported_each_at_its_key) {
  service.cert = pki.dir / "missing.crt";
  write_file(pki.dir / "garbage.crt", "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n");
  service.truststore = pki.dir / "garbage.crt";
  service.positions[""] = {"mtlsd.toml", 1, 1};
  service.positions["cert"] = {"mtlsd.toml", 3, 1};
  service.positions["truststore"] = {"mtlsd.toml", 4, 1};

  const auto r = build(service);
  EXPECT_FALSE(r.context);
  ASSERT_EQ(r.errors.size(), 2u) << all_errors(r.errors);
  EXPECT_EQ(r.errors[0].key, "service[svc].cert");
  EXPECT_EQ(r.errors[0].where.line, 3);
  EXPECT_NE(r.errors[0].message.find("missing.crt"), std::string::npos) << r.errors[0].message;
  EXPECT_EQ(r.errors[1].key, "service[svc].truststore");
  EXPECT_EQ(r.errors[1].where.line, 4);
}

TEST_F(server_context_build, error_on_a_key_without_a_position_points_at_the_service_block) {
  service.positions[""] = {"mtlsd.toml", 20, 1};
  service.truststore = pki.dir / "missing-ca.crt";
  const auto r = build(service);
  EXPECT_FALSE(r.context);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r.errors);
  EXPECT_EQ(r.errors[0].key, "service[svc].truststore");
  EXPECT_EQ(r.errors[0].where.file, "mtlsd.toml");
  EXPECT_EQ(r.errors[0].where.line, 20);
}

TEST_F(server_context_build, verify_client_none_needs_no_truststore) {
  service = make_service(pki, verify_client_mode::none);
  const auto r = build(service);
  ASSERT_TRUE(r.context) << all_errors(r.errors);
  EXPECT_EQ(r.context->truststore_size(), 0u);
  EXPECT_EQ(r.context->verify_mode(), verify_client_mode::none);
}

}  // namespace
}  // namespace mtlsd::test
