#pragma once
// Session-ticket keys from a service's `session_ticket_key_file`: the same
// keys on every mtlsd instance behind a load balancer let each one resume the
// sessions the others issued. A keyring is owned by the server_context of the
// service that names the file and lives at least as long as its SSL_CTX;
// OpenSSL's ticket callback only reads it, from any worker thread.
//
// File format: one key per line, 160 hex characters (80 bytes, as printed by
// `openssl rand -hex 80`); blank lines and lines starting with '#' are
// ignored. The first key encrypts new tickets; every key decrypts.

#include <array>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

namespace mtlsd::tls {

struct ticket_key {
  static constexpr std::size_t name_size = 16;  // sent in clear in each ticket, to pick the key
  static constexpr std::size_t hmac_size = 32;  // HMAC-SHA256 secret
  static constexpr std::size_t aes_size = 32;   // AES-256-CBC secret
  static constexpr std::size_t size = name_size + hmac_size + aes_size;

  std::array<unsigned char, name_size> name{};
  std::array<unsigned char, hmac_size> hmac_secret{};
  std::array<unsigned char, aes_size> aes_secret{};
};

class ticket_keyring {
 public:
  // Parses a key file's text. Every problem is appended to `errors`, as
  // "<source> line N: ..." or "<source> holds no keys: ...", and the result
  // is then null. No message ever quotes key material.
  static std::unique_ptr<ticket_keyring> parse(std::string_view text, const std::string& source,
                                               std::vector<std::string>& errors);

  // Reads and parses `file` (named in messages as given). Its permissions
  // are checked by the caller, with the other secret files (private_file.hpp).
  static std::unique_ptr<ticket_keyring> load(const std::filesystem::path& file, std::vector<std::string>& errors);

  ~ticket_keyring();  // overwrites the secrets before the memory is freed
  ticket_keyring(const ticket_keyring&) = delete;
  ticket_keyring& operator=(const ticket_keyring&) = delete;

  std::size_t size() const { return keys_.size(); }
  // The key new tickets are encrypted with: the first in the file.
  const ticket_key& current() const { return keys_.front(); }
  // The key with this 16-byte name, or nullptr.
  const ticket_key* find(const unsigned char* name) const;

  // Makes `ctx` issue tickets under current() and accept tickets under any
  // key, renewing those under an older one. Without this OpenSSL keeps its
  // own random per-context keys. `*this` must outlive `ctx`. False (with
  // OpenSSL's error queue set) when OpenSSL refuses.
  bool install(SSL_CTX* ctx) const;

 private:
  ticket_keyring() = default;

  std::vector<ticket_key> keys_;
};

}  // namespace mtlsd::tls
