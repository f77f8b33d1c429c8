// Owner: tls module. Keystore formats by content, JKS entries as OpenSSL
// objects, choosing and unlocking a private-key entry (see keystore.hpp).
#include "mtlsd/tls/keystore.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>

#include "mtlsd/tls/jks.hpp"
#include "mtlsd/tls/secret.hpp"
#include "tls/pkcs12_store.hpp"

namespace mtlsd::tls {
namespace {

constexpr std::uint32_t jceks_magic = 0xCECECECE;

std::uint32_t first_word(std::span<const std::uint8_t> head) {
  if (head.size() < 4) return 0;
  return (std::uint32_t{head[0]} << 24) | (std::uint32_t{head[1]} << 16) | (std::uint32_t{head[2]} << 8) | head[3];
}

ossl::x509_ptr parse_certificate(const std::vector<std::uint8_t>& der) {
  const unsigned char* p = der.data();
  ossl::x509_ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert && p != der.data() + der.size()) cert.reset();
  return cert;
}

store_read read_jks(std::span<const std::uint8_t> bytes, std::string_view password) {
  store_read result;
  auto parsed = jks::parse(bytes);
  if (!parsed.store) {
    result.failure = store_failure::malformed;
    result.error = "corrupt JKS keystore: " + parsed.error;
    return result;
  }
  auto encoded = jks::password_bytes(password);
  if (!encoded) {
    result.failure = store_failure::wrong_password;
    result.error = "the password is not valid UTF-8";
    return result;
  }
  if (!jks::integrity_ok(bytes, *parsed.store, encoded->bytes())) {
    result.failure = store_failure::wrong_password;
    // SHA-1 over password and contents: a wrong password and a modified
    // file look the same.
    result.error = "wrong password: integrity check failed (or the file was modified)";
    return result;
  }
  store_contents contents;
  contents.format = store_format::jks;
  for (auto& e : parsed.store->entries) {
    std::vector<ossl::x509_ptr> certs;
    for (std::size_t i = 0; i < e.certificates.size(); ++i) {
      certs.push_back(parse_certificate(e.certificates[i]));
      if (!certs.back()) {
        ERR_clear_error();
        result.failure = store_failure::malformed;
        result.error = "entry '" + e.alias + "': certificate " + std::to_string(i + 1) + " is not valid DER X.509";
        return result;
      }
    }
    if (e.kind == jks::entry_kind::trusted_certificate) {
      contents.trusted.push_back({e.alias, std::move(certs.front())});
    } else {
      store_key_entry key;
      key.alias = e.alias;
      key.chain = std::move(certs);
      key.encrypted_key = std::move(e.protected_key);
      contents.keys.push_back(std::move(key));
    }
  }
  result.contents = std::move(contents);
  return result;
}

bool equal_ignoring_ascii_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

ossl::pkey_ptr key_from_pkcs8(const secret_bytes& der, std::string& error) {
  const unsigned char* p = der.data();
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, ossl::deleter<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>> info(
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  ossl::pkey_ptr key(info ? EVP_PKCS82PKEY(info.get()) : nullptr);
  if (!key) error = "unreadable private key: " + ossl::drain_errors();
  return key;
}

}  // namespace

std::string_view to_string(store_format format) {
  switch (format) {
    case store_format::pem:
      return "PEM";
    case store_format::pkcs12:
      return "PKCS#12";
    case store_format::jks:
      return "JKS";
    case store_format::jceks:
      return "JCEKS";
  }
  return "unknown";
}

store_format detect_store_format(std::span<const std::uint8_t> head) {
  const std::uint32_t word = first_word(head);
  if (word == jks::magic) return store_format::jks;
  if (word == jceks_magic) return store_format::jceks;
  // PKCS#12 is DER and so starts with a SEQUENCE tag; PEM is text, whose
  // first line ("-----BEGIN", or a comment before it) never starts with 0x30.
  if (!head.empty() && head[0] == 0x30) return store_format::pkcs12;
  return store_format::pem;
}

store_read read_store(std::span<const std::uint8_t> bytes, std::string_view password) {
  switch (detect_store_format(bytes)) {
    case store_format::jks:
      return read_jks(bytes, password);
    case store_format::pkcs12:
      return detail::read_pkcs12(bytes, password);
    case store_format::jceks: {
      store_read result;
      result.failure = store_failure::unsupported;
      result.error = "JCEKS keystores are not supported";
      return result;
    }
    case store_format::pem:
      break;
  }
  store_read result;
  result.failure = store_failure::malformed;
  result.error = "not a PKCS#12 or JKS keystore";
  return result;
}

std::string list_aliases(std::vector<std::string> aliases) {
  // JKS keeps entries in Java's hash order; sorted, messages are stable.
  std::sort(aliases.begin(), aliases.end());
  std::string out;
  for (const auto& alias : aliases)
    out += (out.empty() ? "" : ", ") + (alias.empty() ? "(no alias)" : "'" + alias + "'");
  return out;
}

const store_key_entry* select_key_entry(const store_contents& store, std::string_view alias, std::string& error) {
  std::vector<std::string> aliases;
  for (const auto& key : store.keys) aliases.push_back(key.alias);
  const auto trusted = std::find_if(store.trusted.begin(), store.trusted.end(), [&](const store_trusted_entry& t) {
    return !alias.empty() && equal_ignoring_ascii_case(t.alias, alias);
  });
  const std::string not_a_key =
      trusted == store.trusted.end() ? "" : " ('" + trusted->alias + "' is a trusted certificate, not a key)";
  if (store.keys.empty()) {
    error = "holds no private-key entry" + (!not_a_key.empty() ? not_a_key
                                            : store.trusted.empty()
                                                ? std::string()
                                                : std::string(" (only trusted certificates; is this a truststore?)"));
    return nullptr;
  }
  if (alias.empty()) {
    if (store.keys.size() == 1) return &store.keys.front();
    const bool unnamed = std::any_of(aliases.begin(), aliases.end(), [](const std::string& a) { return a.empty(); });
    error = "holds " + std::to_string(store.keys.size()) + " private-key entries (" + list_aliases(aliases) +
            "); set keystore_alias to the one to serve" +
            (unnamed ? "; an entry without alias cannot be named there: export each key under an alias "
                       "(openssl pkcs12 -export -name ALIAS, keytool -alias ALIAS)"
                     : "");
    return nullptr;
  }
  // PKCS#12 does not require distinct friendly names; serving the first of
  // two would be a guess.
  const auto exact = std::count(aliases.begin(), aliases.end(), alias);
  if (exact > 1) {
    error = "has " + std::to_string(exact) + " private-key entries named '" + std::string(alias) +
            "'; export them under different aliases";
    return nullptr;
  }
  for (const auto& key : store.keys)
    if (key.alias == alias) return &key;
  const store_key_entry* found = nullptr;
  for (const auto& key : store.keys) {
    if (!equal_ignoring_ascii_case(key.alias, alias)) continue;
    if (found != nullptr) {
      error = "has several private-key entries named '" + std::string(alias) + "' apart from case (" +
              list_aliases(aliases) + "); write the alias exactly";
      return nullptr;
    }
    found = &key;
  }
  if (found != nullptr) return found;
  error = "has no private-key entry '" + std::string(alias) + "'; its private-key entries: " + list_aliases(aliases) +
          not_a_key;
  return nullptr;
}

ossl::pkey_ptr unlock_key(store_format format, const store_key_entry& entry, std::string_view password,
                          std::string& error) {
  if (entry.plain_key) {
    EVP_PKEY_up_ref(entry.plain_key.get());
    return ossl::pkey_ptr(entry.plain_key.get());
  }
  if (format == store_format::pkcs12) return detail::decrypt_pkcs12_key(entry.encrypted_key, password, error);
  auto encoded = jks::password_bytes(password);
  if (!encoded) {
    error = "the password is not valid UTF-8";
    return nullptr;
  }
  auto plain = jks::recover_key(entry.encrypted_key, encoded->bytes(), error);
  if (!plain) return nullptr;
  return key_from_pkcs8(*plain, error);
}

}  // namespace mtlsd::tls
