#pragma once
// Owner: tls module. Java's proprietary JKS keystore format (what keytool
// writes with -storetype JKS, and by default up to Java 8), read from bytes.
// No library in Debian reads it, so we do; every function here is a pure
// function over its arguments (no I/O, no global state), so that the parser
// can be fuzzed on its own. keystore.hpp turns the result into OpenSSL
// objects.
//
// The layout, all integers big-endian:
//   u32 magic 0xFEEDFEED, u32 version (1 or 2), u32 number of entries,
//   the entries, then a 20-byte SHA-1 digest over the password (UTF-16BE),
//   the ASCII phrase "Mighty Aphrodite" and every byte before the digest.
// Each entry: u32 tag, alias (u16 length + Java's modified UTF-8), u64
// creation time in milliseconds since the epoch, then
//   tag 1, private key: u32 length + an EncryptedPrivateKeyInfo (DER) whose
//          algorithm is Sun's key protector, then u32 number of certificates
//          and the chain, leaf first;
//   tag 2, trusted certificate: one certificate.
// Each certificate: its type (version 2 only; u16 length + UTF-8, "X.509"),
// then u32 length + the encoding (DER).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mtlsd/tls/secret.hpp"

namespace mtlsd::tls::jks {

inline constexpr std::uint32_t magic = 0xFEEDFEED;
inline constexpr std::size_t digest_size = 20;

enum class entry_kind { private_key, trusted_certificate };

struct entry {
  entry_kind kind = entry_kind::trusted_certificate;
  std::string alias;            // UTF-8
  std::int64_t created_ms = 0;  // as stored; not interpreted
  // private_key: the EncryptedPrivateKeyInfo, still encrypted (recover_key()).
  std::vector<std::uint8_t> protected_key;
  // DER certificates: the chain, leaf first, for a private key; exactly one
  // for a trusted certificate. Only X.509 is accepted by parse().
  std::vector<std::vector<std::uint8_t>> certificates;
};

struct keystore {
  std::uint32_t version = 0;
  std::vector<entry> entries;
  std::size_t digest_offset = 0;  // where the integrity digest starts
};

struct parse_result {
  std::optional<keystore> store;  // nullopt when malformed
  std::string error;              // what is wrong, with the byte offset
};

// The structure alone: nothing is decrypted and the password is not needed.
// Every length is checked against what is left, so any byte string yields
// either a keystore or an error.
parse_result parse(std::span<const std::uint8_t> bytes);

// A password as Java hands it to the JKS code: its UTF-16 code units,
// big-endian. nullopt when `utf8` is not valid UTF-8.
std::optional<secret_bytes> password_bytes(std::string_view utf8);

// Whether the digest at the end of `bytes` (as parsed into `store`) was made
// with `password` (from password_bytes()). False means a wrong password or
// a modified file; the format cannot tell the two apart.
bool integrity_ok(std::span<const std::uint8_t> bytes, const keystore& store, std::span<const std::uint8_t> password);

// Decrypts a private-key entry's protected_key with Sun's key protector
// (OID 1.3.6.1.4.1.42.2.17.1.1): 20 bytes of salt, the key XORed with a
// SHA-1 keystream (SHA-1(password, salt), then SHA-1(password, previous
// block)), and a SHA-1 over password and plain key that tells whether the
// password was right. Returns the PKCS#8 PrivateKeyInfo (DER), or nullopt
// with `error` set.
std::optional<secret_bytes> recover_key(std::span<const std::uint8_t> protected_key,
                                        std::span<const std::uint8_t> password, std::string& error);

}  // namespace mtlsd::tls::jks
