// The test PKI itself: every other test trusts it to make what it says, so
// these checks use OpenSSL directly rather than mtlsd's extraction code.

#include "pki.hpp"

#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>
#include <set>
#include <string>

namespace mtlsd::test {
namespace {

using namespace std::chrono_literals;

struct store_deleter { void operator()(X509_STORE* p) const { X509_STORE_free(p); } };
struct store_ctx_deleter { void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); } };
struct stack_deleter { void operator()(STACK_OF(X509)* p) const { sk_X509_free(p); } };
struct bio_deleter { void operator()(BIO* p) const { BIO_free(p); } };
struct names_deleter { void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); } };

// X509_verify_cert against `root`, with `intermediates` untrusted; returns the
// verification error (X509_V_OK on success).
int verify(const issued& leaf, const issued& root, const std::vector<const issued*>& intermediates = {},
           int purpose = X509_PURPOSE_SSL_CLIENT, int depth = -1) {
  std::unique_ptr<X509_STORE, store_deleter> store(X509_STORE_new());
  EXPECT_EQ(X509_STORE_add_cert(store.get(), root.cert.get()), 1);
  std::unique_ptr<STACK_OF(X509), stack_deleter> chain(sk_X509_new_null());
  for (const auto* i : intermediates) sk_X509_push(chain.get(), i->cert.get());
  std::unique_ptr<X509_STORE_CTX, store_ctx_deleter> ctx(X509_STORE_CTX_new());
  EXPECT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), leaf.cert.get(), chain.get()), 1);
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  if (depth >= 0) X509_STORE_CTX_set_depth(ctx.get(), depth);
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

cert_spec ca_spec(const std::string& cn) {
  cert_spec s;
  s.cn = {cn};
  s.is_ca = true;
  return s;
}

cert_spec leaf_spec(const std::string& cn) {
  cert_spec s;
  s.cn = {cn};
  return s;
}

std::string name_entry(X509* cert, int nid, int nth = 0) {
  X509_NAME* name = X509_get_subject_name(cert);
  int pos = -1;
  for (int i = 0; i <= nth; ++i) {
    pos = X509_NAME_get_index_by_NID(name, nid, pos);
    if (pos < 0) return "<absent>";
  }
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, pos));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<std::size_t>(ASN1_STRING_length(data)));
}

TEST(test_pki, chain_of_root_intermediate_leaf_verifies) {
  const auto root = make_self_signed(ca_spec("root"));
  const auto intermediate = issue(ca_spec("intermediate"), root);
  const auto leaf = issue(leaf_spec("client"), intermediate);
  EXPECT_EQ(verify(leaf, root, {&intermediate}), X509_V_OK);
  EXPECT_EQ(verify(leaf, root), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(test_pki, rsa_keys_work_both_as_ca_and_leaf) {
  auto root_spec = ca_spec("rsa-root");
  root_spec.key = key_kind::rsa2048;
  const auto root = make_self_signed(root_spec);
  auto spec = leaf_spec("rsa-client");
  spec.key = key_kind::rsa2048;
  const auto leaf = issue(spec, root);
  EXPECT_EQ(EVP_PKEY_get_base_id(leaf.key.get()), EVP_PKEY_RSA);
  EXPECT_EQ(verify(leaf, root), X509_V_OK);
  EXPECT_TRUE(X509_get_key_usage(leaf.cert.get()) & KU_KEY_ENCIPHERMENT);
}

TEST(test_pki, a_certificate_from_another_root_is_unknown) {
  const auto root = make_self_signed(ca_spec("root"));
  const auto other = make_self_signed(ca_spec("root"));
  const auto leaf = issue(leaf_spec("client"), other);
  EXPECT_NE(verify(leaf, root), X509_V_OK);
}

TEST(test_pki, expired_and_not_yet_valid_are_reported_as_such) {
  const auto root = make_self_signed(ca_spec("root"));
  auto expired = leaf_spec("old");
  expired.not_before = -48h;
  expired.not_after = -24h;
  EXPECT_EQ(verify(issue(expired, root), root), X509_V_ERR_CERT_HAS_EXPIRED);

  auto future = leaf_spec("future");
  future.not_before = 24h;
  future.not_after = 48h;
  EXPECT_EQ(verify(issue(future, root), root), X509_V_ERR_CERT_NOT_YET_VALID);
}

// The fuzz targets rebuild their PKI from fixed randomness and rely on the
// certificates coming out byte-identical, which relative dates would break.
TEST(test_pki, absolute_validity_is_written_as_given) {
  auto spec = leaf_spec("fixed");
  spec.not_before_unix = 1704067200;  // 2024-01-01T00:00:00Z
  spec.not_after_unix = 4102358400;   // 2099-12-31T00:00:00Z
  const auto root = make_self_signed(ca_spec("root"));
  const auto leaf = issue(spec, root);
  int day = 0;
  int second = 0;
  ASSERT_EQ(ASN1_TIME_diff(&day, &second, X509_get0_notBefore(leaf.cert.get()), X509_get0_notAfter(leaf.cert.get())),
            1);
  EXPECT_EQ(std::int64_t{day} * 86400 + second, 4102358400 - 1704067200);
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> start(ASN1_TIME_set(nullptr, 1704067200), ASN1_TIME_free);
  EXPECT_EQ(ASN1_TIME_compare(X509_get0_notBefore(leaf.cert.get()), start.get()), 0);
  EXPECT_EQ(verify(leaf, root), X509_V_OK);
}

TEST(test_pki, path_length_constraint_is_encoded) {
  auto root_spec = ca_spec("root");
  root_spec.path_len = 0;
  const auto root = make_self_signed(root_spec);
  const auto intermediate = issue(ca_spec("intermediate"), root);
  const auto leaf = issue(leaf_spec("client"), intermediate);
  EXPECT_EQ(verify(leaf, root, {&intermediate}), X509_V_ERR_PATH_LENGTH_EXCEEDED);
  EXPECT_EQ(verify(issue(leaf_spec("direct"), root), root), X509_V_OK);
}

TEST(test_pki, depth_limit_applies_to_deep_chains) {
  const auto root = make_self_signed(ca_spec("root"));
  const auto i1 = issue(ca_spec("i1"), root);
  const auto i2 = issue(ca_spec("i2"), i1);
  const auto leaf = issue(leaf_spec("client"), i2);
  EXPECT_EQ(verify(leaf, root, {&i1, &i2}, X509_PURPOSE_SSL_CLIENT, 2), X509_V_OK);
  EXPECT_EQ(verify(leaf, root, {&i1, &i2}, X509_PURPOSE_SSL_CLIENT, 1), X509_V_ERR_CERT_CHAIN_TOO_LONG);
}

TEST(test_pki, ca_and_leaf_extensions) {
  const auto root = make_self_signed(ca_spec("root"));
  const auto leaf = issue(leaf_spec("client"), root);
  EXPECT_EQ(X509_check_ca(root.cert.get()), 1);
  EXPECT_EQ(X509_check_ca(leaf.cert.get()), 0);
  EXPECT_EQ(X509_get_key_usage(root.cert.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_get_key_usage(leaf.cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extension_flags(root.cert.get()) & EXFLAG_XKUSAGE, 0u);

  // AKI of the leaf names the root's SKI; the root's own AKI names itself.
  const ASN1_OCTET_STRING* root_ski = X509_get0_subject_key_id(root.cert.get());
  ASSERT_NE(root_ski, nullptr);
  ASSERT_NE(X509_get0_authority_key_id(leaf.cert.get()), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf.cert.get()), root_ski), 0);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(root.cert.get()), root_ski), 0);
  EXPECT_EQ(X509_check_issued(root.cert.get(), leaf.cert.get()), X509_V_OK);
}

TEST(test_pki, eku_kinds_decide_the_purposes) {
  const auto root = make_self_signed(ca_spec("root"));
  auto spec = leaf_spec("x");
  spec.eku = eku_kind::client_auth;
  const auto client = issue(spec, root);
  spec.eku = eku_kind::server_auth;
  const auto server = issue(spec, root);
  spec.eku = eku_kind::both;
  const auto both = issue(spec, root);
  spec.eku = eku_kind::none;
  const auto none = issue(spec, root);

  EXPECT_EQ(X509_get_extended_key_usage(client.cert.get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_EQ(X509_get_extended_key_usage(server.cert.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_get_extended_key_usage(both.cert.get()),
            static_cast<uint32_t>(XKU_SSL_CLIENT | XKU_SSL_SERVER));
  EXPECT_EQ(X509_get_extension_flags(none.cert.get()) & EXFLAG_XKUSAGE, 0u);

  EXPECT_EQ(verify(client, root, {}, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_EQ(verify(server, root, {}, X509_PURPOSE_SSL_CLIENT), X509_V_ERR_INVALID_PURPOSE);
  EXPECT_EQ(verify(none, root, {}, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_EQ(verify(server, root, {}, X509_PURPOSE_SSL_SERVER), X509_V_OK);
}

TEST(test_pki, subject_attributes_keep_order_and_nul_bytes) {
  const auto root = make_self_signed(ca_spec("root"));
  cert_spec spec;
  spec.cn = {std::string("evil\0.example", 13), "second"};
  spec.ou = {"ops"};
  spec.o = {std::string("Org\0", 4)};
  const auto leaf = issue(spec, root);
  EXPECT_EQ(name_entry(leaf.cert.get(), NID_commonName, 0), std::string("evil\0.example", 13));
  EXPECT_EQ(name_entry(leaf.cert.get(), NID_commonName, 1), "second");
  EXPECT_EQ(name_entry(leaf.cert.get(), NID_commonName, 2), "<absent>");
  EXPECT_EQ(name_entry(leaf.cert.get(), NID_organizationalUnitName), "ops");
  EXPECT_EQ(name_entry(leaf.cert.get(), NID_organizationName), std::string("Org\0", 4));
  // Issuer name is the root's subject, byte for byte.
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(leaf.cert.get()), X509_get_subject_name(root.cert.get())), 0);
}

TEST(test_pki, subject_alt_names_keep_type_order_and_nul_bytes) {
  const auto root = make_self_signed(ca_spec("root"));
  cert_spec spec;
  spec.cn = {"client"};
  spec.dns = {"a.example", std::string("b\0.example", 10)};
  spec.uri = {"spiffe://example.org/x"};
  spec.email = {"me@example.org"};
  spec.ip = {"10.1.2.3", "2001:db8::1"};
  const auto leaf = issue(spec, root);

  std::unique_ptr<GENERAL_NAMES, names_deleter> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf.cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  ASSERT_NE(names, nullptr);
  std::vector<std::pair<int, std::string>> got;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    int type = 0;
    const auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(n, &type));
    got.emplace_back(type, std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                                       static_cast<std::size_t>(ASN1_STRING_length(value))));
  }
  const std::vector<std::pair<int, std::string>> want = {
      {GEN_DNS, "a.example"},
      {GEN_DNS, std::string("b\0.example", 10)},
      {GEN_URI, "spiffe://example.org/x"},
      {GEN_EMAIL, "me@example.org"},
      {GEN_IPADD, std::string("\x0a\x01\x02\x03", 4)},
      {GEN_IPADD, std::string("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16)},
  };
  EXPECT_EQ(got, want);
}

TEST(test_pki, san_is_critical_only_when_the_subject_is_empty) {
  const auto root = make_self_signed(ca_spec("root"));
  cert_spec spec;
  spec.dns = {"only-san.example"};
  int critical = -1;
  const auto bare = issue(spec, root);
  GENERAL_NAMES_free(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(bare.cert.get(), NID_subject_alt_name, &critical, nullptr)));
  EXPECT_EQ(critical, 1);
  spec.cn = {"named"};
  const auto named = issue(spec, root);
  GENERAL_NAMES_free(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(named.cert.get(), NID_subject_alt_name, &critical, nullptr)));
  EXPECT_EQ(critical, 0);
  EXPECT_EQ(verify(bare, root), X509_V_OK);
}

TEST(test_pki, an_invalid_ip_is_refused_with_a_message) {
  const auto root = make_self_signed(ca_spec("root"));
  auto spec = leaf_spec("x");
  spec.ip = {"10.1.2"};
  EXPECT_THROW(issue(spec, root), std::runtime_error);
}

TEST(test_pki, serials_are_random_positive_128_bit) {
  const auto root = make_self_signed(ca_spec("root"));
  std::set<std::string> seen;
  for (int i = 0; i < 8; ++i) {
    const auto leaf = issue(leaf_spec("x"), root);
    const ASN1_INTEGER* serial = X509_get0_serialNumber(leaf.cert.get());
    EXPECT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER);  // not V_ASN1_NEG_INTEGER
    EXPECT_EQ(ASN1_STRING_length(serial), 16);
    seen.insert(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(serial)), 16));
  }
  EXPECT_EQ(seen.size(), 8u);
}

TEST(test_pki, pem_round_trips_and_encrypted_keys_need_the_password) {
  const auto root = make_self_signed(ca_spec("root"));
  const auto leaf = issue(leaf_spec("client"), root);

  const std::string cert_pem = leaf.cert_pem();
  std::unique_ptr<BIO, bio_deleter> cbio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  x509_ptr cert(PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_cmp(cert.get(), leaf.cert.get()), 0);

  const std::string plain = leaf.key_pem();
  EXPECT_NE(plain.find("-----BEGIN " + std::string("PRIVATE") + " KEY-----"), std::string::npos);
  std::unique_ptr<BIO, bio_deleter> kbio(BIO_new_mem_buf(plain.data(), static_cast<int>(plain.size())));
  pkey_ptr key(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_eq(key.get(), leaf.key.get()), 1);
  EXPECT_EQ(X509_check_private_key(leaf.cert.get(), key.get()), 1);

  const std::string encrypted = leaf.key_pem_encrypted("s3cret");
  EXPECT_NE(encrypted.find("-----BEGIN ENCRYPTED " + std::string("PRIVATE") + " KEY-----"), std::string::npos);
  auto read = [&](const char* password) {
    std::unique_ptr<BIO, bio_deleter> bio(BIO_new_mem_buf(encrypted.data(), static_cast<int>(encrypted.size())));
    pkey_ptr k(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>(password)));
    ERR_clear_error();
    return k;
  };
  const auto good = read("s3cret");
  ASSERT_NE(good, nullptr);
  EXPECT_EQ(EVP_PKEY_eq(good.get(), leaf.key.get()), 1);
  EXPECT_EQ(read("wrong"), nullptr);
}

TEST(test_pki, sha256_hex_is_64_lowercase_digits_and_differs_per_cert) {
  const auto root = make_self_signed(ca_spec("root"));
  const auto a = issue(leaf_spec("a"), root);
  const auto b = issue(leaf_spec("a"), root);
  EXPECT_EQ(a.sha256_hex().size(), 64u);
  EXPECT_EQ(a.sha256_hex().find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a.sha256_hex(), b.sha256_hex());
  EXPECT_EQ(a.sha256_hex(), a.sha256_hex());
}

TEST(test_pki, temp_dir_is_fresh_and_removed_recursively) {
  std::filesystem::path kept;
  {
    temp_dir a;
    temp_dir b;
    EXPECT_NE(a.path(), b.path());
    EXPECT_TRUE(std::filesystem::is_directory(a.path()));
    EXPECT_TRUE(std::filesystem::is_empty(a.path()));
    write_file(a / "nested/dir/file.pem", "hello");
    std::ifstream in(a / "nested/dir/file.pem");
    std::string text;
    std::getline(in, text);
    EXPECT_EQ(text, "hello");
    kept = a.path();
  }
  EXPECT_FALSE(std::filesystem::exists(kept));
}

}  // namespace
}  // namespace mtlsd::test
