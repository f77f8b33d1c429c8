#pragma once
// Owner: tls module. Keystores and truststores in the formats Java
// deployments keep them in — PKCS#12 (read through OpenSSL) and JKS
// (jks.hpp) — told apart by their content, never by the file name. Reading
// checks the store's integrity with its password; private keys stay
// encrypted until one entry is chosen and unlocked, so a store holding
// several keys under different passwords still serves the one asked for.
// Passwords and decrypted key bytes live in secret_bytes (secret.hpp).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mtlsd/tls/openssl.hpp"

namespace mtlsd::tls {

enum class store_format { pem, pkcs12, jks, jceks };

// "PEM", "PKCS#12", "JKS", "JCEKS".
std::string_view to_string(store_format);

// By the first bytes: JKS (FE ED FE ED) and JCEKS (CE CE CE CE) by their
// magic numbers, PKCS#12 by a DER SEQUENCE; anything else is taken as PEM.
store_format detect_store_format(std::span<const std::uint8_t> head);

struct store_key_entry {
  std::string alias;                  // PKCS#12: the friendlyName; empty when the entry has none
  std::vector<ossl::x509_ptr> chain;  // leaf first; empty when no certificate belongs to the key
  // The key as stored: an EncryptedPrivateKeyInfo (DER; JKS: Sun's key
  // protector, PKCS#12: PBES2 or a PKCS#12 PBE scheme)...
  std::vector<std::uint8_t> encrypted_key;
  ossl::pkey_ptr plain_key;  // ...or, for a PKCS#12 keyBag, the key itself
};

struct store_trusted_entry {
  std::string alias;
  ossl::x509_ptr certificate;
};

struct store_contents {
  store_format format = store_format::pkcs12;
  std::vector<store_key_entry> keys;
  // JKS: the trusted-certificate entries. PKCS#12: the certificates keytool
  // marked as trusted; in a store without such marks (openssl pkcs12
  // -export), every certificate that belongs to no private-key entry.
  std::vector<store_trusted_entry> trusted;
};

enum class store_failure { none, malformed, wrong_password, unsupported };

struct store_read {
  std::optional<store_contents> contents;
  store_failure failure = store_failure::none;
  std::string error;  // without the file name; the caller knows it
};

// Reads a PKCS#12 or JKS store (the format decided by detect_store_format)
// and checks its integrity with `password` (UTF-8).
store_read read_store(std::span<const std::uint8_t> bytes, std::string_view password);

// The private-key entry to serve: the one named `alias` (exact, else
// ignoring ASCII case, since keytool lower-cases JKS aliases), or with an
// empty `alias` the only one. nullptr with `error` set (listing the aliases
// present) otherwise, also when several entries carry `alias` (PKCS#12
// allows it).
const store_key_entry* select_key_entry(const store_contents& store, std::string_view alias, std::string& error);

// Decrypts the entry's private key with `password`.
ossl::pkey_ptr unlock_key(store_format format, const store_key_entry& entry, std::string_view password,
                          std::string& error);

// "'a', 'b'", sorted (an entry without alias shows as "(no alias)").
std::string list_aliases(std::vector<std::string> aliases);

}  // namespace mtlsd::tls
