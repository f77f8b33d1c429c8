// Reading keystores and truststores (keystore.hpp) as keytool and
// `openssl pkcs12 -export` write them: the format told by content, the
// private-key entry with its alias and chain, the trusted certificates, and
// the refusals — wrong password, JCEKS, an ambiguous or unknown alias.

#include "mtlsd/tls/keystore.hpp"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>

#include "java_stores.hpp"
#include "process.hpp"

namespace mtlsd::test {
namespace {

using bytes = std::vector<std::uint8_t>;

bytes read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

tls::store_contents must_read(const std::filesystem::path& file, std::string_view password = java_stores::password) {
  auto read = tls::read_store(read_bytes(file), password);
  EXPECT_EQ(read.failure, tls::store_failure::none) << file << ": " << read.error;
  return read.contents ? std::move(*read.contents) : tls::store_contents{};
}

class keystore : public ::testing::Test {
 protected:
  java_stores& stores = java_stores::shared();

  // The one private-key entry is "server": leaf + intermediate, and its key unlocks to the leaf's.
  void expect_server_entry(const tls::store_contents& store) {
    ASSERT_EQ(store.keys.size(), 1u);
    const auto& entry = store.keys[0];
    EXPECT_EQ(entry.alias, "server");
    ASSERT_EQ(entry.chain.size(), 2u);
    EXPECT_EQ(X509_cmp(entry.chain[0].get(), stores.server_leaf().cert.get()), 0);
    EXPECT_EQ(X509_cmp(entry.chain[1].get(), stores.server_intermediate().cert.get()), 0);
    std::string error;
    auto key = tls::unlock_key(store.format, entry, java_stores::password, error);
    ASSERT_TRUE(key) << error;
    EXPECT_EQ(EVP_PKEY_eq(key.get(), stores.server_leaf().key.get()), 1);
    EXPECT_TRUE(store.trusted.empty());
  }
};

TEST_F(keystore, format_is_told_by_content) {
  EXPECT_EQ(tls::detect_store_format(read_bytes(stores.keytool_jks())), tls::store_format::jks);
  EXPECT_EQ(tls::detect_store_format(read_bytes(stores.keytool_p12())), tls::store_format::pkcs12);
  EXPECT_EQ(tls::detect_store_format(read_bytes(stores.openssl_p12())), tls::store_format::pkcs12);
  EXPECT_EQ(tls::detect_store_format(read_bytes(stores.jceks())), tls::store_format::jceks);
  EXPECT_EQ(tls::detect_store_format(read_bytes(stores.client_ca_file())), tls::store_format::pem);
  EXPECT_EQ(tls::detect_store_format(bytes{}), tls::store_format::pem);
}

TEST_F(keystore, reads_a_keytool_jks_keystore) {
  const auto store = must_read(stores.keytool_jks());
  EXPECT_EQ(store.format, tls::store_format::jks);
  expect_server_entry(store);
}

TEST_F(keystore, reads_a_keytool_pkcs12_keystore) {
  // Java 17's defaults: PBES2 with AES-256 for key and certificates, HmacSHA256 MAC.
  const auto store = must_read(stores.keytool_p12());
  EXPECT_EQ(store.format, tls::store_format::pkcs12);
  expect_server_entry(store);
}

TEST_F(keystore, reads_an_openssl_pkcs12_keystore) {
  const auto store = must_read(stores.openssl_p12());
  expect_server_entry(store);
}

TEST_F(keystore, a_wrong_password_fails_the_integrity_check) {
  for (const auto& file : {stores.keytool_p12(), stores.openssl_p12(), stores.keytool_jks()}) {
    const auto read = tls::read_store(read_bytes(file), "not-the-password");
    EXPECT_FALSE(read.contents) << file;
    EXPECT_EQ(read.failure, tls::store_failure::wrong_password) << file;
    EXPECT_NE(read.error.find("wrong password: integrity check failed"), std::string::npos) << read.error;
  }
}

TEST_F(keystore, truststores_hold_their_trusted_certificate_entries) {
  for (const auto& file : {stores.truststore_jks(), stores.truststore_p12()}) {
    const auto store = must_read(file);
    EXPECT_TRUE(store.keys.empty()) << file;
    ASSERT_EQ(store.trusted.size(), 1u) << file;
    EXPECT_EQ(store.trusted[0].alias, "clientca");
    EXPECT_EQ(X509_cmp(store.trusted[0].certificate.get(), stores.client_ca().cert.get()), 0);
  }
}

TEST_F(keystore, pkcs12_chain_certificates_are_not_trusted_entries) {
  // keytool marks trusted entries; the intermediate stored with the key is not one.
  const auto store = must_read(stores.key_and_trusted_p12());
  ASSERT_EQ(store.keys.size(), 1u);
  ASSERT_EQ(store.trusted.size(), 1u);
  EXPECT_EQ(store.trusted[0].alias, "clientca");
}

TEST_F(keystore, an_openssl_certificate_only_pkcs12_trusts_every_certificate) {
  // Without keytool's trust marks, every certificate not tied to a key counts.
  const auto file = stores.dir() / "cas-openssl.p12";
  write_file(stores.dir() / "cas.pem", stores.client_ca().cert_pem() + stores.other_client_ca().cert_pem());
  process_options options;
  options.search_path = true;
  const auto r = run_command({"openssl", "pkcs12", "-export", "-nokeys", "-in", (stores.dir() / "cas.pem").string(),
                              "-out", file.string(), "-passout", "pass:changeit"},
                             30s, {}, options);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto store = must_read(file);
  EXPECT_TRUE(store.keys.empty());
  EXPECT_EQ(store.trusted.size(), 2u);
}

TEST_F(keystore, a_legacy_rc2_pkcs12_is_refused_with_advice) {
  const auto file = stores.dir() / "legacy.p12";
  write_file(stores.dir() / "legacy.pem", stores.server_leaf().key_pem() + stores.server_leaf().cert_pem());
  process_options options;
  options.search_path = true;
  const auto r = run_command({"openssl", "pkcs12", "-export", "-legacy", "-in", (stores.dir() / "legacy.pem").string(),
                              "-out", file.string(), "-passout", "pass:changeit"},
                             30s, {}, options);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto read = tls::read_store(read_bytes(file), java_stores::password);
  EXPECT_EQ(read.failure, tls::store_failure::unsupported) << read.error;
  EXPECT_NE(read.error.find("RC2-40"), std::string::npos) << read.error;
  EXPECT_NE(read.error.find("keytool -importkeystore"), std::string::npos) << read.error;
}

TEST_F(keystore, one_of_several_keys_is_chosen_by_alias) {
  const auto store = must_read(stores.two_keys_jks());
  ASSERT_EQ(store.keys.size(), 2u);
  std::string error;
  EXPECT_EQ(tls::select_key_entry(store, "", error), nullptr);
  EXPECT_EQ(error, "holds 2 private-key entries ('first', 'second'); set keystore_alias to the one to serve");

  error.clear();
  const auto* second = tls::select_key_entry(store, "second", error);
  ASSERT_NE(second, nullptr) << error;
  EXPECT_EQ(second->alias, "second");
  // keytool lower-cases JKS aliases; what the user typed may not be.
  EXPECT_EQ(tls::select_key_entry(store, "Second", error), second) << error;

  EXPECT_EQ(tls::select_key_entry(store, "third", error), nullptr);
  EXPECT_EQ(error, "has no private-key entry 'third'; its private-key entries: 'first', 'second'");
}

TEST_F(keystore, a_truststore_is_no_keystore) {
  const auto store = must_read(stores.truststore_p12());
  std::string error;
  EXPECT_EQ(tls::select_key_entry(store, "", error), nullptr);
  EXPECT_NE(error.find("holds no private-key entry"), std::string::npos) << error;
  EXPECT_EQ(tls::select_key_entry(store, "clientca", error), nullptr);
  EXPECT_NE(error.find("'clientca' is a trusted certificate, not a key"), std::string::npos) << error;
}

TEST_F(keystore, jceks_and_non_stores_are_refused) {
  const auto jceks = tls::read_store(read_bytes(stores.jceks()), java_stores::password);
  EXPECT_EQ(jceks.failure, tls::store_failure::unsupported);
  EXPECT_NE(jceks.error.find("JCEKS keystores are not supported"), std::string::npos) << jceks.error;

  const auto pem = tls::read_store(read_bytes(stores.client_ca_file()), java_stores::password);
  EXPECT_EQ(pem.failure, tls::store_failure::malformed);

  bytes junk = {0x30, 0x03, 0x02, 0x01, 0x05};
  const auto not_p12 = tls::read_store(junk, java_stores::password);
  EXPECT_EQ(not_p12.failure, tls::store_failure::malformed);
  EXPECT_NE(not_p12.error.find("not a PKCS#12 or JKS keystore"), std::string::npos) << not_p12.error;
}

}  // namespace
}  // namespace mtlsd::test
