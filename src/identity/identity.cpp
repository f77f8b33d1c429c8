// Client certificate -> client_identity (identity.hpp). Owned by the identity
// module. Runs on the data plane (inside the TLS verify callback), so it never
// throws on certificate content: anything that cannot be decoded is left out
// or replaced by a value that no rule can match.

#include "mtlsd/identity/identity.hpp"

#include <arpa/inet.h>

#include <array>
#include <chrono>
#include <ctime>
#include <memory>
#include <utility>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "identity/text_escape.hpp"

namespace mtlsd {
namespace {

struct bio_free { void operator()(BIO* p) const { BIO_free(p); } };
struct bn_free { void operator()(BIGNUM* p) const { BN_free(p); } };
struct names_free { void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); } };
struct openssl_free { void operator()(void* p) const { OPENSSL_free(p); } };

std::string hex(const unsigned char* data, std::size_t length) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (std::size_t i = 0; i < length; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0x0f];
  }
  return out;
}

}  // namespace

std::string distinguished_name(const X509_NAME* name) {
  if (name == nullptr) return {};
  // RFC 2253 flags minus ESC_MSB: non-ASCII is printed as UTF-8 instead of
  // "\C3\A9" so names stay readable. ESC_CTRL still escapes C0 and DEL;
  // escape_text then catches what OpenSSL lets through (C1 controls arrive
  // as valid UTF-8, and a UTF8String is not checked for validity).
  for (const unsigned long flags : {XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB, XN_FLAG_RFC2253}) {
    std::unique_ptr<BIO, bio_free> bio(BIO_new(BIO_s_mem()));
    if (!bio) return {};
    if (X509_NAME_print_ex(bio.get(), name, 0, flags) < 0) continue;
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &data);
    if (length < 0) continue;
    return detail::escape_text(std::string_view(data, static_cast<std::size_t>(length)),
                               detail::escape_style::rfc2253);
  }
  return {};
}

namespace {

std::string serial_hex(const X509* cert) {
  std::unique_ptr<BIGNUM, bn_free> bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return {};
  std::unique_ptr<char, openssl_free> text(BN_bn2hex(bn.get()));
  return text ? std::string(text.get()) : std::string();
}

// A value that could not be converted still counts (a second CN that fails
// to decode must not let the first one pass as "the only CN"), so it is kept
// as a marker that starts with NUL: printable in logs, and never matched.
std::string undecodable(const ASN1_STRING* value) {
  std::string out("\0undecodable:", 13);
  out += hex(ASN1_STRING_get0_data(value), static_cast<std::size_t>(ASN1_STRING_length(value)));
  return out;
}

std::vector<std::string> attribute_values(const X509_NAME* name, int nid) {
  std::vector<std::string> out;
  if (name == nullptr) return out;
  for (int pos = X509_NAME_get_index_by_NID(name, nid, -1); pos >= 0;
       pos = X509_NAME_get_index_by_NID(name, nid, pos)) {
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, pos));
    if (value == nullptr) continue;
    unsigned char* utf8 = nullptr;
    // The returned length, not strlen(): embedded NULs must survive so the
    // matcher can refuse them ("evil\0.example" must not become "evil").
    const int length = ASN1_STRING_to_UTF8(&utf8, value);
    if (length < 0) {
      out.push_back(undecodable(value));
      continue;
    }
    std::unique_ptr<unsigned char, openssl_free> owned(utf8);
    out.emplace_back(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
  }
  return out;
}

std::string bytes_of(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

std::string ip_text(const ASN1_OCTET_STRING* octets) {
  const int length = ASN1_STRING_length(octets);
  const unsigned char* data = ASN1_STRING_get0_data(octets);
  std::array<char, INET6_ADDRSTRLEN> buf{};
  const int family = length == 4 ? AF_INET : length == 16 ? AF_INET6 : 0;
  if (family != 0 && inet_ntop(family, data, buf.data(), buf.size()) != nullptr) return buf.data();
  return "invalid:" + hex(data, static_cast<std::size_t>(length < 0 ? 0 : length));
}

void add_alt_names(X509* cert, client_identity& id) {
  int critical = 0;
  // A certificate with two SAN extensions yields nothing here (critical ==
  // -2); losing SAN values can only lose matches, never grant one.
  std::unique_ptr<GENERAL_NAMES, names_free> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, nullptr)));
  if (!names) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    int type = 0;
    const void* value = GENERAL_NAME_get0_value(name, &type);
    if (value == nullptr) continue;
    switch (type) {
      case GEN_DNS:
        id.dns.push_back(bytes_of(static_cast<const ASN1_STRING*>(value)));
        break;
      case GEN_URI:
        id.uri.push_back(bytes_of(static_cast<const ASN1_STRING*>(value)));
        break;
      case GEN_EMAIL:
        id.email.push_back(bytes_of(static_cast<const ASN1_STRING*>(value)));
        break;
      case GEN_IPADD:
        id.ip.push_back(ip_text(static_cast<const ASN1_OCTET_STRING*>(value)));
        break;
      default:
        break;  // otherName, directoryName, ...: no rule can name them
    }
  }
}

std::int64_t unix_seconds(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  // Calendar arithmetic instead of timegm(): no TZ environment involved.
  using namespace std::chrono;
  const year_month_day date{year{tm.tm_year + 1900}, month{static_cast<unsigned>(tm.tm_mon + 1)},
                            day{static_cast<unsigned>(tm.tm_mday)}};
  if (!date.ok()) return 0;
  const auto at = sys_days{date} + hours{tm.tm_hour} + minutes{tm.tm_min} + seconds{tm.tm_sec};
  return duration_cast<seconds>(at.time_since_epoch()).count();
}

// OpenSSL's KU_* values keep the DER bit string's first octet as is, so
// bit 0 (digitalSignature) is 0x80; client_identity numbers them as RFC 5280 does.
std::uint16_t key_usage_flags(std::uint32_t openssl_bits) {
  static constexpr std::pair<std::uint32_t, std::uint16_t> map[] = {
      {KU_DIGITAL_SIGNATURE, key_usage_bit::digital_signature}, {KU_NON_REPUDIATION, key_usage_bit::non_repudiation},
      {KU_KEY_ENCIPHERMENT, key_usage_bit::key_encipherment},   {KU_DATA_ENCIPHERMENT, key_usage_bit::data_encipherment},
      {KU_KEY_AGREEMENT, key_usage_bit::key_agreement},         {KU_KEY_CERT_SIGN, key_usage_bit::key_cert_sign},
      {KU_CRL_SIGN, key_usage_bit::crl_sign},                   {KU_ENCIPHER_ONLY, key_usage_bit::encipher_only},
      {KU_DECIPHER_ONLY, key_usage_bit::decipher_only}};
  std::uint16_t out = 0;
  for (const auto& [theirs, ours] : map) {
    if (openssl_bits & theirs) out |= ours;
  }
  return out;
}

void add_constraints(X509* cert, client_identity& id) {
  const std::uint32_t flags = X509_get_extension_flags(cert);
  id.is_ca = (flags & EXFLAG_CA) != 0;
  id.has_key_usage = (flags & EXFLAG_KUSAGE) != 0;
  if (id.has_key_usage) id.key_usage = key_usage_flags(X509_get_key_usage(cert));
}

}  // namespace

std::string key_usage_names(std::uint16_t key_usage) {
  static constexpr std::pair<std::uint16_t, const char*> names[] = {
      {key_usage_bit::digital_signature, "digitalSignature"}, {key_usage_bit::non_repudiation, "nonRepudiation"},
      {key_usage_bit::key_encipherment, "keyEncipherment"},   {key_usage_bit::data_encipherment, "dataEncipherment"},
      {key_usage_bit::key_agreement, "keyAgreement"},         {key_usage_bit::key_cert_sign, "keyCertSign"},
      {key_usage_bit::crl_sign, "cRLSign"},                   {key_usage_bit::encipher_only, "encipherOnly"},
      {key_usage_bit::decipher_only, "decipherOnly"}};
  std::string out;
  for (const auto& [bit, name] : names) {
    if ((key_usage & bit) == 0) continue;
    if (!out.empty()) out += ',';
    out += name;
  }
  return out.empty() ? "none" : out;
}

client_identity extract_identity(X509* cert) {
  client_identity id;
  if (cert == nullptr) return id;
  const X509_NAME* subject = X509_get_subject_name(cert);
  id.subject = distinguished_name(subject);
  id.issuer = distinguished_name(X509_get_issuer_name(cert));
  id.serial = serial_hex(cert);
  id.cn = attribute_values(subject, NID_commonName);
  id.ou = attribute_values(subject, NID_organizationalUnitName);
  id.o = attribute_values(subject, NID_organizationName);
  add_alt_names(cert, id);

  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_length = 0;
  if (X509_digest(cert, EVP_sha256(), md.data(), &md_length) == 1) id.sha256 = hex(md.data(), md_length);

  id.not_before = unix_seconds(X509_get0_notBefore(cert));
  id.not_after = unix_seconds(X509_get0_notAfter(cert));
  add_constraints(cert, id);
  return id;
}

std::string colon_hex(const std::string& lowercase_hex) {
  std::string out;
  out.reserve(lowercase_hex.size() + lowercase_hex.size() / 2);
  for (std::size_t i = 0; i < lowercase_hex.size(); ++i) {
    if (i > 0 && i % 2 == 0) out += ':';
    const char c = lowercase_hex[i];
    out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}

}  // namespace mtlsd
