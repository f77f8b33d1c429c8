// The JKS parser (jks.hpp) on stores keytool wrote, and on bytes crafted
// here for what keytool never writes: corrupt files, secret-key entries,
// other certificate types. What users depend on: a good store reads with its
// password, and anything else is refused with a message saying where.

#include "mtlsd/tls/jks.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>

#include "java_stores.hpp"

namespace mtlsd::test {
namespace {

using bytes = std::vector<std::uint8_t>;

bytes read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bytes der_of(X509* cert) {
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

bytes password(std::string_view text) {
  auto encoded = tls::jks::password_bytes(text);
  EXPECT_TRUE(encoded);
  return encoded ? bytes(encoded->bytes().begin(), encoded->bytes().end()) : bytes{};
}

// Writes JKS bytes by the format description, to craft what keytool never
// produces; finish() appends the integrity digest for a password.
class jks_writer {
 public:
  jks_writer& u16(std::uint32_t v) { return put(v, 2); }
  jks_writer& u32(std::uint32_t v) { return put(v, 4); }
  jks_writer& u64(std::uint64_t v) { return put(v, 8); }
  jks_writer& raw(const bytes& b) {
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }
  jks_writer& utf(std::string_view modified_utf8) {
    u16(static_cast<std::uint32_t>(modified_utf8.size()));
    return raw(bytes(modified_utf8.begin(), modified_utf8.end()));
  }
  jks_writer& header(std::uint32_t count, std::uint32_t version = 2) { return u32(0xFEEDFEED).u32(version).u32(count); }
  jks_writer& trusted(std::string_view alias, const bytes& der, std::string_view type = "X.509") {
    u32(2).utf(alias).u64(1700000000000);
    utf(type).u32(static_cast<std::uint32_t>(der.size()));
    return raw(der);
  }
  const bytes& unfinished() const { return out_; }
  bytes finish(std::string_view pass) {
    const bytes pw = password(pass);
    const std::string phrase = "Mighty Aphrodite";
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned char digest[20];
    unsigned int n = 0;
    EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
    EVP_DigestUpdate(ctx, pw.data(), pw.size());
    EVP_DigestUpdate(ctx, phrase.data(), phrase.size());
    EVP_DigestUpdate(ctx, out_.data(), out_.size());
    EVP_DigestFinal_ex(ctx, digest, &n);
    EVP_MD_CTX_free(ctx);
    bytes done = out_;
    done.insert(done.end(), digest, digest + n);
    return done;
  }

 private:
  jks_writer& put(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  bytes out_;
};

class jks : public ::testing::Test {
 protected:
  java_stores& stores = java_stores::shared();
};

TEST_F(jks, reads_a_keytool_keystore_and_recovers_its_key) {
  const bytes file = read_bytes(stores.keytool_jks());
  const auto parsed = tls::jks::parse(file);
  ASSERT_TRUE(parsed.store) << parsed.error;
  EXPECT_EQ(parsed.store->version, 2u);
  ASSERT_EQ(parsed.store->entries.size(), 1u);
  const auto& entry = parsed.store->entries[0];
  EXPECT_EQ(entry.kind, tls::jks::entry_kind::private_key);
  EXPECT_EQ(entry.alias, "server");
  ASSERT_EQ(entry.certificates.size(), 2u);
  EXPECT_EQ(entry.certificates[0], der_of(stores.server_leaf().cert.get()));
  EXPECT_EQ(entry.certificates[1], der_of(stores.server_intermediate().cert.get()));

  EXPECT_TRUE(tls::jks::integrity_ok(file, *parsed.store, password(java_stores::password)));
  EXPECT_FALSE(tls::jks::integrity_ok(file, *parsed.store, password("changeiT")));

  std::string error;
  auto pkcs8 = tls::jks::recover_key(entry.protected_key, password(java_stores::password), error);
  ASSERT_TRUE(pkcs8) << error;
  const unsigned char* p = pkcs8->data();
  EVP_PKEY* key = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(pkcs8->size()));
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_eq(key, stores.server_leaf().key.get()), 1) << "not the key that was imported";
  EVP_PKEY_free(key);
}

TEST_F(jks, a_wrong_password_does_not_recover_the_key) {
  const auto parsed = tls::jks::parse(read_bytes(stores.keytool_jks()));
  ASSERT_TRUE(parsed.store) << parsed.error;
  std::string error;
  EXPECT_FALSE(tls::jks::recover_key(parsed.store->entries[0].protected_key, password("wrong"), error));
  EXPECT_EQ(error, "wrong password for the private key");
}

TEST_F(jks, reads_a_keytool_truststore) {
  const bytes file = read_bytes(stores.truststore_jks());
  const auto parsed = tls::jks::parse(file);
  ASSERT_TRUE(parsed.store) << parsed.error;
  ASSERT_EQ(parsed.store->entries.size(), 1u);
  EXPECT_EQ(parsed.store->entries[0].kind, tls::jks::entry_kind::trusted_certificate);
  EXPECT_EQ(parsed.store->entries[0].alias, "clientca");
  ASSERT_EQ(parsed.store->entries[0].certificates.size(), 1u);
  EXPECT_EQ(parsed.store->entries[0].certificates[0], der_of(stores.client_ca().cert.get()));
  EXPECT_TRUE(tls::jks::integrity_ok(file, *parsed.store, password(java_stores::password)));
}

TEST_F(jks, every_truncation_is_reported_with_its_offset) {
  const bytes file = read_bytes(stores.keytool_jks());
  for (std::size_t n = 0; n < file.size(); ++n) {
    const auto parsed = tls::jks::parse(std::span<const std::uint8_t>(file.data(), n));
    ASSERT_FALSE(parsed.store) << "a store cut to " << n << " of " << file.size() << " bytes was accepted";
    ASSERT_NE(parsed.error.find("truncated at offset "), std::string::npos) << n << ": " << parsed.error;
  }
  bytes longer = file;
  longer.push_back(0);
  const auto parsed = tls::jks::parse(longer);
  EXPECT_FALSE(parsed.store);
  EXPECT_NE(parsed.error.find("1 unexpected bytes after the integrity digest"), std::string::npos) << parsed.error;
}

TEST_F(jks, every_changed_byte_is_detected) {
  const bytes file = read_bytes(stores.keytool_jks());
  const bytes pw = password(java_stores::password);
  for (std::size_t i = 0; i < file.size(); ++i) {
    bytes changed = file;
    changed[i] ^= 0x01;
    const auto parsed = tls::jks::parse(changed);
    ASSERT_TRUE(!parsed.store || !tls::jks::integrity_ok(changed, *parsed.store, pw))
        << "a store with byte " << i << " changed was accepted";
  }
}

TEST_F(jks, a_corrupt_length_is_reported_where_it_was_read) {
  bytes file = read_bytes(stores.keytool_jks());
  // Header (12) + tag (4) + alias "server" (2 + 6) + date (8): the key's length.
  ASSERT_EQ(file[32], 0);
  file[32] = 0x7F;
  const auto parsed = tls::jks::parse(file);
  ASSERT_FALSE(parsed.store);
  EXPECT_NE(parsed.error.find("truncated at offset 36: the private key of entry 'server' needs"), std::string::npos)
      << parsed.error;
}

TEST_F(jks, a_secret_key_entry_is_refused_by_alias) {
  jks_writer w;
  w.header(2).trusted("ca", der_of(stores.client_ca().cert.get()));
  w.u32(3).utf("session-key").u64(0).u32(16);  // JCEKS's secret-key tag
  const auto parsed = tls::jks::parse(w.finish(java_stores::password));
  ASSERT_FALSE(parsed.store);
  EXPECT_NE(parsed.error.find("entry 'session-key' is a secret key"), std::string::npos) << parsed.error;
}

TEST_F(jks, a_certificate_type_other_than_x509_is_refused) {
  jks_writer w;
  w.header(1).trusted("pgp-key", der_of(stores.client_ca().cert.get()), "PGP");
  const auto parsed = tls::jks::parse(w.finish(java_stores::password));
  ASSERT_FALSE(parsed.store);
  EXPECT_NE(parsed.error.find("entry 'pgp-key': certificate type \"PGP\" is not supported"), std::string::npos)
      << parsed.error;
}

TEST_F(jks, version_1_stores_have_no_certificate_type) {
  const bytes der = der_of(stores.client_ca().cert.get());
  jks_writer w;
  w.header(1, 1).u32(2).utf("old").u64(0).u32(static_cast<std::uint32_t>(der.size())).raw(der);
  const bytes file = w.finish("secret");
  const auto parsed = tls::jks::parse(file);
  ASSERT_TRUE(parsed.store) << parsed.error;
  EXPECT_EQ(parsed.store->entries[0].certificates[0], der);
  EXPECT_TRUE(tls::jks::integrity_ok(file, *parsed.store, password("secret")));
}

TEST_F(jks, unknown_versions_and_other_formats_are_refused) {
  jks_writer v3;
  EXPECT_NE(tls::jks::parse(v3.header(0, 3).finish("x")).error.find("unsupported JKS version 3"), std::string::npos);
  jks_writer jceks;
  jceks.u32(0xCECECECE).u32(2).u32(0);
  EXPECT_NE(tls::jks::parse(jceks.finish("x")).error.find("not a JKS keystore"), std::string::npos);
}

TEST_F(jks, duplicate_aliases_are_refused) {
  const bytes der = der_of(stores.client_ca().cert.get());
  jks_writer w;
  w.header(2).trusted("ca", der).trusted("ca", der);
  EXPECT_NE(tls::jks::parse(w.finish("x")).error.find("alias 'ca' appears twice"), std::string::npos);
}

TEST_F(jks, huge_counts_end_at_the_end_of_the_input) {
  jks_writer entries;
  const auto many_entries = tls::jks::parse(entries.header(0xFFFFFFFF).unfinished());
  EXPECT_EQ(many_entries.error, "truncated at offset 12: the type of entry 1 needs 4 bytes, 0 left");
  jks_writer chain;
  chain.header(1).u32(1).utf("k").u64(0).u32(0).u32(0xFFFFFFFF);
  const auto long_chain = tls::jks::parse(chain.unfinished());
  EXPECT_EQ(long_chain.error, "truncated at offset 35: the certificate type of entry 'k' needs 2 bytes, 0 left");
}

TEST_F(jks, aliases_in_modified_utf8_are_read_as_utf8) {
  // U+00E9 as two bytes, U+1F600 as two 3-byte surrogates, U+0000 as C0 80.
  const std::string modified = "caf\xC3\xA9-\xED\xA0\xBD\xED\xB8\x80-\xC0\x80";
  jks_writer w;
  w.header(1).trusted(modified, der_of(stores.client_ca().cert.get()));
  const auto parsed = tls::jks::parse(w.finish("x"));
  ASSERT_TRUE(parsed.store) << parsed.error;
  EXPECT_EQ(parsed.store->entries[0].alias, std::string("caf\xC3\xA9-\xF0\x9F\x98\x80-\0", 12));

  jks_writer lone;
  lone.header(1).trusted("\xED\xA0\xBD", der_of(stores.client_ca().cert.get()));
  EXPECT_NE(tls::jks::parse(lone.finish("x")).error.find("not valid modified UTF-8"), std::string::npos);
}

TEST_F(jks, passwords_are_hashed_as_utf16_big_endian) {
  EXPECT_EQ(password("ab"), (bytes{0x00, 'a', 0x00, 'b'}));
  EXPECT_EQ(password("\xC3\xA9"), (bytes{0x00, 0xE9}));
  EXPECT_EQ(password("\xF0\x9F\x98\x80"), (bytes{0xD8, 0x3D, 0xDE, 0x00}));
  EXPECT_EQ(password(""), bytes{});
  EXPECT_FALSE(tls::jks::password_bytes("\xFF"));
  EXPECT_FALSE(tls::jks::password_bytes("\xC3"));
  EXPECT_FALSE(tls::jks::password_bytes("\xED\xA0\xBD"));  // a surrogate is not a character
}

}  // namespace
}  // namespace mtlsd::test
