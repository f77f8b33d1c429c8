// Reading keystores and truststores (keystore.hpp) as keytool and
// `openssl pkcs12 -export` write them: the format told by content, the
// private-key entry with its alias and chain, the trusted certificates, and
// the refusals — wrong password, JCEKS, an ambiguous or unknown alias.

#include "mtlsd/tls/keystore.hpp"

#include <gtest/gtest.h>
#include <openssl/pkcs12.h>
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

// A PKCS#12 of unencrypted private-key bags named `aliases` ("" for none),
// without integrity MAC: what no tool writes but a file may hold, since
// friendly names are optional and need not differ.
bytes pkcs12_of_keys(const std::vector<std::string>& aliases, const issued& owner) {
  STACK_OF(PKCS12_SAFEBAG)* bags = nullptr;
  for (const auto& alias : aliases) {
    PKCS12_SAFEBAG* bag = PKCS12_add_key(&bags, owner.key.get(), 0, 0, -1, nullptr);
    EXPECT_NE(bag, nullptr);
    if (bag != nullptr && !alias.empty()) {
      EXPECT_EQ(PKCS12_add_friendlyname(bag, alias.c_str(), -1), 1);
    }
  }
  STACK_OF(PKCS7)* safes = nullptr;
  EXPECT_EQ(PKCS12_add_safe(&safes, bags, -1, 0, nullptr), 1);
  PKCS12* p12 = PKCS12_add_safes(safes, 0);
  EXPECT_NE(p12, nullptr);
  unsigned char* der = nullptr;
  const int length = p12 != nullptr ? i2d_PKCS12(p12, &der) : 0;
  bytes out(der, der + (length > 0 ? length : 0));
  OPENSSL_free(der);
  PKCS12_free(p12);
  sk_PKCS7_pop_free(safes, PKCS7_free);
  sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
  return out;
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

TEST_F(keystore, keys_that_share_an_alias_or_have_none_are_refused_with_advice) {
  const auto& owner = stores.server_leaf();
  const auto read = [&](const std::vector<std::string>& aliases) {
    auto r = tls::read_store(pkcs12_of_keys(aliases, owner), java_stores::password);
    EXPECT_EQ(r.failure, tls::store_failure::none) << r.error;
    return r.contents ? std::move(*r.contents) : tls::store_contents{};
  };
  std::string error;

  // Serving the first of two entries of one name would be a guess.
  const auto twins = read({"server", "server", "other"});
  ASSERT_EQ(twins.keys.size(), 3u);
  EXPECT_EQ(tls::select_key_entry(twins, "server", error), nullptr);
  EXPECT_EQ(error, "has 2 private-key entries named 'server'; export them under different aliases");
  error.clear();
  EXPECT_EQ(tls::select_key_entry(twins, "other", error), &twins.keys[2]) << error;

  // Entries without alias: keystore_alias cannot name them, and the refusal
  // says how to give them one.
  const auto unnamed = read({"", ""});
  ASSERT_EQ(unnamed.keys.size(), 2u);
  error.clear();
  EXPECT_EQ(tls::select_key_entry(unnamed, "", error), nullptr);
  EXPECT_EQ(error,
            "holds 2 private-key entries ((no alias), (no alias)); set keystore_alias to the one to serve; an entry "
            "without alias cannot be named there: export each key under an alias (openssl pkcs12 -export -name "
            "ALIAS, keytool -alias ALIAS)");

  // One unnamed key beside named ones is still reached through the others' names.
  const auto mixed = read({"", "server"});
  error.clear();
  EXPECT_EQ(tls::select_key_entry(mixed, "server", error), &mixed.keys[1]) << error;
  // The only key needs no alias at all.
  const auto single = read({""});
  error.clear();
  EXPECT_EQ(tls::select_key_entry(single, "", error), &single.keys[0]) << error;
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
