// Session-ticket keys shared between instances (see ticket_keys.hpp).
#include "mtlsd/tls/ticket_keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace mtlsd::tls {
namespace {

constexpr std::size_t hex_length = 2 * ticket_key::size;
constexpr const char* generate_hint = "generate a key with `openssl rand -hex 80`";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view line) {
  constexpr std::string_view space = " \t\r";
  const auto first = line.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return line.substr(first, line.find_last_not_of(space) - first + 1);
}

// Decodes 2 * out.size() hex characters from the front of `hex`.
template <std::size_t N>
void decode(std::string_view hex, std::array<unsigned char, N>& out) {
  for (std::size_t i = 0; i < N; ++i)
    out[i] = static_cast<unsigned char>(hex_value(hex[2 * i]) * 16 + hex_value(hex[2 * i + 1]));
}

int keyring_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool set_mac_key(EVP_MAC_CTX* mac, const ticket_key& key) {
  // OSSL_PARAM wants non-const pointers; HMAC only reads them.
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.hmac_secret.data()),
                                        key.hmac_secret.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(mac, params) == 1;
}

// OpenSSL's contract (SSL_CTX_set_tlsext_ticket_key_evp_cb): when encrypting,
// 1 = ticket set up, 0 = send no ticket; when decrypting, 0 = unknown key
// (full handshake), 1 = accepted, 2 = accepted but issue a fresh ticket.
// Negative values abort the handshake, which a ticket problem never deserves:
// the worst case here is a full handshake. Runs concurrently on every worker
// thread; the keyring is read-only and the cipher and MAC contexts belong to
// this one handshake.
int ticket_callback(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                    int encrypt) {
  const auto* ring = static_cast<const ticket_keyring*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keyring_index()));
  if (ring == nullptr || ring->size() == 0) return 0;
  const EVP_CIPHER* aes = EVP_aes_256_cbc();
  if (encrypt) {
    const ticket_key& key = ring->current();
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) != 1) return 0;
    std::memcpy(key_name, key.name.data(), key.name.size());
    if (EVP_EncryptInit_ex(cipher, aes, nullptr, key.aes_secret.data(), iv) != 1 || !set_mac_key(mac, key)) return 0;
    return 1;
  }
  const ticket_key* key = ring->find(key_name);
  if (key == nullptr) return 0;
  if (!set_mac_key(mac, *key) || EVP_DecryptInit_ex(cipher, aes, nullptr, key->aes_secret.data(), iv) != 1) return 0;
  // Renewing moves clients off a retiring key while it can still decrypt.
  // TLS 1.3 clients are asked to use each ticket once (RFC 8446, C.4), so
  // they always get a fresh one, as with OpenSSL's own keys; TLS 1.2 clients
  // keep theirs while its key is current.
  if (key != &ring->current()) return 2;
  return SSL_version(ssl) == TLS1_3_VERSION ? 2 : 1;
}

}  // namespace

std::unique_ptr<ticket_keyring> ticket_keyring::parse(std::string_view text, const std::string& source,
                                                      std::vector<std::string>& errors) {
  std::unique_ptr<ticket_keyring> ring(new ticket_keyring());
  // Reserved up front: a reallocation would leave copies of the secrets in
  // freed memory that the destructor never sees.
  ring->keys_.reserve(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  std::vector<int> key_lines;
  const std::size_t errors_before = errors.size();
  int line_number = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line = trim(text.substr(start, end - start));
    start = end + 1;
    ++line_number;
    if (line.empty() || line.front() == '#') continue;

    const std::string where = source + " line " + std::to_string(line_number) + ": ";
    if (line.size() != hex_length) {
      errors.push_back(where + "expected " + std::to_string(hex_length) + " hex characters (" +
                       std::to_string(ticket_key::size) + " bytes), found " + std::to_string(line.size()) +
                       " characters; " + generate_hint);
      continue;
    }
    const auto bad = std::find_if(line.begin(), line.end(), [](char c) { return hex_value(c) < 0; });
    if (bad != line.end()) {
      errors.push_back(where + "character " + std::to_string(bad - line.begin() + 1) + " is not a hex digit; " +
                       generate_hint);
      continue;
    }
    ticket_key& key = ring->keys_.emplace_back();
    decode(line.substr(0, 2 * ticket_key::name_size), key.name);
    decode(line.substr(2 * ticket_key::name_size, 2 * ticket_key::hmac_size), key.hmac_secret);
    decode(line.substr(2 * (ticket_key::name_size + ticket_key::hmac_size)), key.aes_secret);
    const auto same = std::find_if(ring->keys_.begin(), ring->keys_.end() - 1,
                                   [&](const ticket_key& other) { return other.name == key.name; });
    if (same != ring->keys_.end() - 1) {
      // The name alone picks the key for a ticket, so two keys sharing one
      // would make tickets under the second undecryptable.
      errors.push_back(where + "the key name (its first 32 hex characters) is the same as on line " +
                       std::to_string(key_lines[static_cast<std::size_t>(same - ring->keys_.begin())]) +
                       "; each key needs a name of its own (" + generate_hint + ")");
      OPENSSL_cleanse(&key, sizeof key);
      ring->keys_.pop_back();
      continue;
    }
    key_lines.push_back(line_number);
  }
  if (errors.size() != errors_before) return nullptr;
  if (ring->keys_.empty()) {
    errors.push_back(source + " holds no keys: expected one key per line, " + std::to_string(hex_length) +
                     " hex characters each; " + generate_hint);
    return nullptr;
  }
  return ring;
}

std::unique_ptr<ticket_keyring> ticket_keyring::load(const std::filesystem::path& file,
                                                     std::vector<std::string>& errors) {
  const std::string name = file.string();
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  struct stat info {};
  if (fd < 0 || ::fstat(fd, &info) != 0) {
    errors.push_back("cannot read " + name + ": " + std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return nullptr;
  }
  std::string text;
  text.reserve(static_cast<std::size_t>(std::max<off_t>(info.st_size, 0)) + 1);
  int read_error = 0;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      read_error = errno;
      break;
    }
  }
  OPENSSL_cleanse(buffer, sizeof buffer);
  ::close(fd);
  std::unique_ptr<ticket_keyring> ring;
  if (read_error != 0)
    errors.push_back("cannot read " + name + ": " + std::strerror(read_error));
  else
    ring = parse(text, name, errors);
  OPENSSL_cleanse(text.data(), text.size());
  return ring;
}

ticket_keyring::~ticket_keyring() {
  if (!keys_.empty()) OPENSSL_cleanse(keys_.data(), keys_.size() * sizeof(ticket_key));
}

const ticket_key* ticket_keyring::find(const unsigned char* name) const {
  for (const ticket_key& key : keys_) {
    if (CRYPTO_memcmp(key.name.data(), name, key.name.size()) == 0) return &key;
  }
  return nullptr;
}

bool ticket_keyring::install(SSL_CTX* ctx) const {
  if (keys_.empty() || keyring_index() < 0) return false;
  // OpenSSL never writes through ex_data; the pointer is stored non-const only because the API says so.
  if (SSL_CTX_set_ex_data(ctx, keyring_index(), const_cast<ticket_keyring*>(this)) != 1) return false;
  return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_callback) == 1;
}

}  // namespace mtlsd::tls
