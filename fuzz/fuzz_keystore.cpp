// Arbitrary bytes as a keystore or truststore file (keystore.hpp, jks.hpp),
// with the fixed password "changeit": format detection, the JKS parser, the
// integrity check, reading the store's entries (certificates, encrypted
// keys; PKCS#12 through OpenSSL), choosing and unlocking a key entry, and
// Sun's key protector on the raw bytes.
//
// A JKS store ends in a SHA-1 digest over password and contents that no
// mutation gets right by chance; every parsed store is therefore also read
// with that digest recomputed, so what comes after the integrity check
// (certificate decoding, key entries) is fuzzed too. Properties:
//   - parse() gives a store or an error; a store's digest is its last 20
//     bytes, every trusted-certificate entry holds one certificate and no
//     alias appears twice;
//   - the recomputed digest passes integrity_ok(), and a flipped one fails;
//   - each key entry is chosen by its alias unless another has the same one
//     (or, without alias, unless it is not the only key);
//   - a failed read, selection or unlock always says why.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mtlsd/tls/jks.hpp"
#include "mtlsd/tls/keystore.hpp"

namespace {

using namespace mtlsd::tls;

constexpr std::string_view password = "changeit";

void require(bool condition) {
  if (!condition) std::abort();
}

// jks.hpp: SHA-1 over the password (UTF-16BE), "Mighty Aphrodite" and
// everything before the digest.
void recompute_digest(std::vector<std::uint8_t>& bytes, std::size_t digest_offset,
                      std::span<const std::uint8_t> encoded_password) {
  static constexpr std::string_view phrase = "Mighty Aphrodite";
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned int length = 0;
  require(ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr) == 1 &&
          EVP_DigestUpdate(ctx, encoded_password.data(), encoded_password.size()) == 1 &&
          EVP_DigestUpdate(ctx, phrase.data(), phrase.size()) == 1 &&
          EVP_DigestUpdate(ctx, bytes.data(), digest_offset) == 1 &&
          EVP_DigestFinal_ex(ctx, bytes.data() + digest_offset, &length) == 1 && length == jks::digest_size);
  EVP_MD_CTX_free(ctx);
}

void read_and_unlock(std::span<const std::uint8_t> bytes) {
  const store_read read = read_store(bytes, password);
  if (!read.contents) {
    require(read.failure != store_failure::none && !read.error.empty());
    return;
  }
  const store_contents& store = *read.contents;
  for (const auto& trusted : store.trusted) require(trusted.certificate != nullptr);
  std::vector<std::string> aliases;
  for (const auto& key : store.keys) aliases.push_back(key.alias);
  (void)list_aliases(aliases);
  std::string error;
  const store_key_entry* only = select_key_entry(store, "", error);
  require(only != nullptr || !error.empty());
  for (const auto& key : store.keys) {
    // A key is chosen by its alias when no other key has exactly that alias
    // (or, without alias, when it is the only key); else the refusal says why.
    error.clear();
    const store_key_entry* chosen = select_key_entry(store, key.alias, error);
    const bool nameable = key.alias.empty() ? store.keys.size() == 1
                                            : std::count(aliases.begin(), aliases.end(), key.alias) == 1;
    require(nameable ? chosen == &key : chosen == nullptr && !error.empty());
    error.clear();
    const auto unlocked = unlock_key(store.format, key, password, error);
    require(unlocked != nullptr || !error.empty());
  }
}

void judge(std::span<const std::uint8_t> bytes) {
  const store_format format = detect_store_format(bytes);
  (void)to_string(format);
  const auto encoded = jks::password_bytes(password);
  require(encoded && encoded->size() == 2 * password.size());

  const jks::parse_result parsed = jks::parse(bytes);
  if (!parsed.store) {
    require(!parsed.error.empty());
  } else {
    const jks::keystore& store = *parsed.store;
    require(format == store_format::jks);
    require(store.digest_offset + jks::digest_size == bytes.size());
    std::set<std::string> seen;
    for (const auto& e : store.entries) {
      require(seen.insert(e.alias).second);
      if (e.kind == jks::entry_kind::trusted_certificate) require(e.certificates.size() == 1);
    }
    std::vector<std::uint8_t> fixed(bytes.begin(), bytes.end());
    recompute_digest(fixed, store.digest_offset, encoded->bytes());
    require(jks::integrity_ok(fixed, store, encoded->bytes()));
    read_and_unlock(fixed);
    fixed.back() ^= 0x01;
    require(!jks::integrity_ok(fixed, store, encoded->bytes()));
  }
  // The original bytes as a user's file: with their own digest, and PKCS#12
  // through OpenSSL.
  read_and_unlock(bytes);

  // The bytes as a key protected by Sun's key protector, and as a password.
  std::string error;
  const auto plain = jks::recover_key(bytes, encoded->bytes(), error);
  require(plain.has_value() || !error.empty());
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (const auto as_password = jks::password_bytes(text)) require(as_password->size() % 2 == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  judge(std::span<const std::uint8_t>(data, size));
  // Emptied so the input frees what it allocated (libFuzzer's leak check).
  ERR_clear_error();
  return 0;
}
