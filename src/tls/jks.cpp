// Owner: tls module. The JKS parser (see jks.hpp for the layout).
#include "mtlsd/tls/jks.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <memory>

namespace mtlsd::tls::jks {
namespace {

constexpr std::uint32_t tag_private_key = 1;
constexpr std::uint32_t tag_trusted_certificate = 2;
// JCEKS's tag for a secret key; a JKS writer never produces it, but a store
// converted by hand might.
constexpr std::uint32_t tag_secret_key = 3;
constexpr std::string_view integrity_phrase = "Mighty Aphrodite";
constexpr std::string_view key_protector_oid = "1.3.6.1.4.1.42.2.17.1.1";

using sha1_digest = std::array<std::uint8_t, digest_size>;

// Reads big-endian integers and byte strings, refusing to read past the end.
class cursor {
 public:
  explicit cursor(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  std::size_t offset() const { return at_; }
  std::size_t left() const { return bytes_.size() - at_; }
  const std::string& error() const { return error_; }

  bool need(std::size_t n, std::string_view what) {
    if (left() >= n) return true;
    error_ = "truncated at offset " + std::to_string(at_) + ": " + std::string(what) + " needs " + std::to_string(n) +
             (n == 1 ? " byte, " : " bytes, ") + std::to_string(left()) + " left";
    return false;
  }
  template <typename Integer>
  bool integer(Integer& out, std::string_view what) {
    if (!need(sizeof(Integer), what)) return false;
    out = 0;
    for (std::size_t i = 0; i < sizeof(Integer); ++i) out = static_cast<Integer>((out << 8) | bytes_[at_ + i]);
    at_ += sizeof(Integer);
    return true;
  }
  bool take(std::size_t n, std::string_view what, std::span<const std::uint8_t>& out) {
    if (!need(n, what)) return false;
    out = bytes_.subspan(at_, n);
    at_ += n;
    return true;
  }
  void fail(std::size_t where, std::string message) {
    error_ = "at offset " + std::to_string(where) + ": " + std::move(message);
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
  std::string error_;
};

void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

// Java's DataOutput.writeUTF encoding ("modified UTF-8"): UTF-16 code units,
// each as one to three UTF-8-style bytes, so characters outside the BMP come
// as two 3-byte surrogates and U+0000 as C0 80. Decoded to standard UTF-8.
std::optional<std::string> decode_modified_utf8(std::span<const std::uint8_t> in) {
  std::vector<std::uint16_t> units;
  for (std::size_t i = 0; i < in.size();) {
    const std::uint8_t b = in[i];
    const auto continuation = [&](std::size_t k) { return i + k < in.size() && (in[i + k] & 0xC0) == 0x80; };
    if (b != 0 && b < 0x80) {
      units.push_back(b);
      i += 1;
    } else if ((b & 0xE0) == 0xC0 && continuation(1)) {
      units.push_back(static_cast<std::uint16_t>(((b & 0x1F) << 6) | (in[i + 1] & 0x3F)));
      i += 2;
    } else if ((b & 0xF0) == 0xE0 && continuation(1) && continuation(2)) {
      units.push_back(static_cast<std::uint16_t>(((b & 0x0F) << 12) | ((in[i + 1] & 0x3F) << 6) | (in[i + 2] & 0x3F)));
      i += 3;
    } else {
      return std::nullopt;
    }
  }
  std::string out;
  for (std::size_t i = 0; i < units.size(); ++i) {
    const std::uint16_t u = units[i];
    if (u >= 0xD800 && u <= 0xDBFF) {
      if (i + 1 >= units.size() || units[i + 1] < 0xDC00 || units[i + 1] > 0xDFFF) return std::nullopt;
      append_utf8(out, 0x10000 + ((static_cast<std::uint32_t>(u) - 0xD800) << 10) + (units[i + 1] - 0xDC00u));
      ++i;
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
      return std::nullopt;
    } else {
      append_utf8(out, u);
    }
  }
  return out;
}

bool read_utf(cursor& in, std::string& out, std::string_view what) {
  std::uint16_t length = 0;
  std::span<const std::uint8_t> raw;
  const std::size_t start = in.offset();
  if (!in.integer(length, what) || !in.take(length, what, raw)) return false;
  auto text = decode_modified_utf8(raw);
  if (!text) {
    in.fail(start, std::string(what) + " is not valid modified UTF-8");
    return false;
  }
  out = std::move(*text);
  return true;
}

std::string quoted(const std::string& alias) { return "'" + alias + "'"; }

bool read_certificate(cursor& in, std::uint32_t version, const std::string& alias, std::vector<std::uint8_t>& out) {
  const std::size_t start = in.offset();
  if (version == 2) {
    std::string type;
    if (!read_utf(in, type, "the certificate type of entry " + quoted(alias))) return false;
    if (type != "X.509") {
      in.fail(start, "entry " + quoted(alias) + ": certificate type \"" + type + "\" is not supported (only X.509)");
      return false;
    }
  }
  std::uint32_t length = 0;
  std::span<const std::uint8_t> der;
  const std::string what = "a certificate of entry " + quoted(alias);
  if (!in.integer(length, what) || !in.take(length, what, der)) return false;
  out.assign(der.begin(), der.end());
  return true;
}

bool read_entry(cursor& in, std::uint32_t version, std::size_t index, entry& out) {
  const std::size_t start = in.offset();
  const std::string ordinal = "entry " + std::to_string(index + 1);
  std::uint32_t tag = 0;
  if (!in.integer(tag, "the type of " + ordinal)) return false;
  if (tag != tag_private_key && tag != tag_trusted_certificate && tag != tag_secret_key) {
    in.fail(start, ordinal + " has unknown type " + std::to_string(tag) + " (the file is corrupt)");
    return false;
  }
  if (!read_utf(in, out.alias, "the alias of " + ordinal)) return false;
  if (tag == tag_secret_key) {
    in.fail(start, "entry " + quoted(out.alias) +
                       " is a secret key; only private-key and trusted-certificate entries are supported");
    return false;
  }
  std::uint64_t created = 0;
  if (!in.integer(created, "the date of entry " + quoted(out.alias))) return false;
  out.created_ms = static_cast<std::int64_t>(created);

  if (tag == tag_trusted_certificate) {
    out.kind = entry_kind::trusted_certificate;
    out.certificates.emplace_back();
    return read_certificate(in, version, out.alias, out.certificates.back());
  }
  out.kind = entry_kind::private_key;
  std::uint32_t key_length = 0;
  std::span<const std::uint8_t> key;
  const std::string key_what = "the private key of entry " + quoted(out.alias);
  if (!in.integer(key_length, key_what) || !in.take(key_length, key_what, key)) return false;
  out.protected_key.assign(key.begin(), key.end());
  std::uint32_t chain_length = 0;
  if (!in.integer(chain_length, "the chain length of entry " + quoted(out.alias))) return false;
  // Each certificate takes at least four bytes, so a corrupt count runs out
  // of input after at most left()/4 rounds instead of looping 2^32 times.
  for (std::uint32_t i = 0; i < chain_length; ++i) {
    out.certificates.emplace_back();
    if (!read_certificate(in, version, out.alias, out.certificates.back())) return false;
  }
  return true;
}

class md_ctx {
 public:
  md_ctx() : ctx_(EVP_MD_CTX_new()) {}
  ~md_ctx() { EVP_MD_CTX_free(ctx_); }
  md_ctx(const md_ctx&) = delete;
  md_ctx& operator=(const md_ctx&) = delete;

  bool init() { return ctx_ && EVP_DigestInit_ex(ctx_, EVP_sha1(), nullptr) == 1; }
  bool update(std::span<const std::uint8_t> data) {
    return data.empty() || EVP_DigestUpdate(ctx_, data.data(), data.size()) == 1;
  }
  bool final(sha1_digest& out) {
    unsigned int size = 0;
    return EVP_DigestFinal_ex(ctx_, out.data(), &size) == 1 && size == out.size();
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

bool sha1(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b, sha1_digest& out) {
  md_ctx ctx;
  return ctx.init() && ctx.update(a) && ctx.update(b) && ctx.final(out);
}

}  // namespace

parse_result parse(std::span<const std::uint8_t> bytes) {
  parse_result result;
  cursor in(bytes);
  std::uint32_t file_magic = 0;
  keystore store;
  std::uint32_t count = 0;
  if (!in.integer(file_magic, "the header")) {
    result.error = in.error();
    return result;
  }
  if (file_magic != magic) {
    result.error = "not a JKS keystore (the file does not start with FE ED FE ED)";
    return result;
  }
  if (!in.integer(store.version, "the version") || !in.integer(count, "the number of entries")) {
    result.error = in.error();
    return result;
  }
  if (store.version != 1 && store.version != 2) {
    result.error = "at offset 4: unsupported JKS version " + std::to_string(store.version) + " (1 and 2 are known)";
    return result;
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t start = in.offset();
    entry e;
    if (!read_entry(in, store.version, i, e)) {
      result.error = in.error();
      return result;
    }
    const auto same_alias = [&](const entry& other) { return other.alias == e.alias; };
    if (std::any_of(store.entries.begin(), store.entries.end(), same_alias)) {
      result.error = "at offset " + std::to_string(start) + ": alias " + quoted(e.alias) + " appears twice";
      return result;
    }
    store.entries.push_back(std::move(e));
  }
  store.digest_offset = in.offset();
  if (in.left() < digest_size) {
    in.need(digest_size, "the integrity digest");
    result.error = in.error();
    return result;
  }
  if (in.left() > digest_size) {
    result.error = "at offset " + std::to_string(store.digest_offset + digest_size) + ": " +
                   std::to_string(in.left() - digest_size) + " unexpected bytes after the integrity digest";
    return result;
  }
  result.store = std::move(store);
  return result;
}

std::optional<secret_bytes> password_bytes(std::string_view utf8) {
  // Two bytes per UTF-16 unit, at most two units per code point of at least
  // one byte: 4 * size bytes always suffice, so the buffer never grows.
  secret_bytes out(4 * utf8.size());
  std::size_t length = 0;
  const auto put = [&](std::uint32_t unit) {
    out.data()[length++] = static_cast<std::uint8_t>(unit >> 8);
    out.data()[length++] = static_cast<std::uint8_t>(unit & 0xFF);
  };
  const auto* in = reinterpret_cast<const std::uint8_t*>(utf8.data());
  for (std::size_t i = 0; i < utf8.size();) {
    const std::uint8_t b = in[i];
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if (b < 0x80) {
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      extra = 1, cp = b & 0x1F, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      extra = 2, cp = b & 0x0F, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      extra = 3, cp = b & 0x07, min = 0x10000;
    } else {
      return std::nullopt;
    }
    if (extra != 0 && i + extra >= utf8.size()) return std::nullopt;
    for (std::size_t k = 1; k <= extra; ++k) {
      if ((in[i + k] & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (in[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    i += extra + 1;
    if (cp >= 0x10000) {
      put(0xD800 + ((cp - 0x10000) >> 10));
      put(0xDC00 + ((cp - 0x10000) & 0x3FF));
    } else {
      put(cp);
    }
  }
  out.shrink_to(length);
  return out;
}

bool integrity_ok(std::span<const std::uint8_t> bytes, const keystore& store, std::span<const std::uint8_t> password) {
  if (store.digest_offset > bytes.size() || bytes.size() - store.digest_offset < digest_size) return false;
  md_ctx ctx;
  sha1_digest digest{};
  if (!ctx.init() || !ctx.update(password) || !ctx.update(as_bytes(integrity_phrase)) ||
      !ctx.update(bytes.first(store.digest_offset)) || !ctx.final(digest))
    return false;
  return CRYPTO_memcmp(digest.data(), bytes.data() + store.digest_offset, digest_size) == 0;
}

std::optional<secret_bytes> recover_key(std::span<const std::uint8_t> protected_key,
                                        std::span<const std::uint8_t> password, std::string& error) {
  const unsigned char* p = protected_key.data();
  std::unique_ptr<X509_SIG, decltype(&X509_SIG_free)> info(
      d2i_X509_SIG(nullptr, &p, static_cast<long>(protected_key.size())), &X509_SIG_free);
  if (!info || p != protected_key.data() + protected_key.size()) {
    error = "the private key is not a valid EncryptedPrivateKeyInfo";
    return std::nullopt;
  }
  const X509_ALGOR* algorithm = nullptr;
  const ASN1_OCTET_STRING* sealed = nullptr;
  X509_SIG_get0(info.get(), &algorithm, &sealed);
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, algorithm);
  char oid_text[128] = {};
  OBJ_obj2txt(oid_text, sizeof oid_text, oid, 1);
  if (key_protector_oid != oid_text) {
    error = std::string("the private key is protected with algorithm ") + oid_text + ", not the JKS key protector " +
            std::string(key_protector_oid);
    return std::nullopt;
  }
  const std::span<const std::uint8_t> data(ASN1_STRING_get0_data(sealed),
                                           static_cast<std::size_t>(ASN1_STRING_length(sealed)));
  if (data.size() < 2 * digest_size) {
    error = "the protected private key is too short (" + std::to_string(data.size()) + " bytes)";
    return std::nullopt;
  }
  const auto salt = data.first(digest_size);
  const auto encrypted = data.subspan(digest_size, data.size() - 2 * digest_size);
  const auto check = data.last(digest_size);

  secret_bytes plain(encrypted.size());
  sha1_digest block{};
  bool ok = true;
  for (std::size_t at = 0; ok && at < encrypted.size(); at += digest_size) {
    ok = at == 0 ? sha1(password, salt, block) : sha1(password, std::span<const std::uint8_t>(block), block);
    const std::size_t n = std::min(digest_size, encrypted.size() - at);
    for (std::size_t i = 0; ok && i < n; ++i) plain.data()[at + i] = encrypted[at + i] ^ block[i];
  }
  OPENSSL_cleanse(block.data(), block.size());
  sha1_digest expected{};
  if (!ok || !sha1(password, plain.bytes(), expected)) {
    error = "SHA-1 is not available";
    return std::nullopt;
  }
  if (CRYPTO_memcmp(expected.data(), check.data(), digest_size) != 0) {
    error = "wrong password for the private key";
    return std::nullopt;
  }
  return plain;
}

}  // namespace mtlsd::tls::jks
