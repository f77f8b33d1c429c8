// Owner: tls module. Walking a PKCS#12 file's safe bags (RFC 7292): the
// authenticated safe holds ContentInfos, plain or password-encrypted (Java 9+
// encrypts the certificates too), each a list of bags — keys (plain or
// shrouded), certificates, nested lists. Entries are tied together by the
// localKeyId attribute, named by friendlyName.
#include "tls/pkcs12_store.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

namespace mtlsd::tls::detail {
namespace {

// The attribute Java's PKCS#12 keystore puts on trusted-certificate entries
// (Oracle's "trusted key usage"); OpenSSL 3.0 has no NID for it.
constexpr std::string_view java_trusted_oid = "2.16.840.1.113894.746875.1.1";
// Nesting of safeContentsBags we follow; real files nest at most once.
constexpr int max_nesting = 4;

template <typename T, void (*Free)(T*)>
using owned = std::unique_ptr<T, ossl::deleter<T, Free>>;

void free_authsafes(STACK_OF(PKCS7) * s) { sk_PKCS7_pop_free(s, PKCS7_free); }
void free_bags(STACK_OF(PKCS12_SAFEBAG) * s) { sk_PKCS12_SAFEBAG_pop_free(s, PKCS12_SAFEBAG_free); }
void free_string(char* s) { OPENSSL_free(s); }

struct cert_bag {
  ossl::x509_ptr cert;
  std::string alias;
  std::vector<std::uint8_t> local_key_id;
  bool marked_trusted = false;
  bool used = false;  // the leaf or chain member of a key entry
};

struct key_bag {
  std::string alias;
  std::vector<std::uint8_t> local_key_id;
  std::vector<std::uint8_t> encrypted_key;
  ossl::pkey_ptr plain_key;
};

struct walk {
  std::vector<cert_bag> certs;
  std::vector<key_bag> keys;
  std::string error;
  store_failure failure = store_failure::none;

  bool fail(store_failure kind, std::string message) {
    failure = kind;
    error = std::move(message);
    return false;
  }
};

std::string friendly_name(PKCS12_SAFEBAG* bag) {
  owned<char, free_string> name(PKCS12_get_friendlyname(bag));
  return name ? std::string(name.get()) : std::string();
}

std::vector<std::uint8_t> local_key_id(const PKCS12_SAFEBAG* bag) {
  const ASN1_TYPE* id = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);
  if (id == nullptr || id->type != V_ASN1_OCTET_STRING) return {};
  const ASN1_OCTET_STRING* octets = id->value.octet_string;
  const unsigned char* data = ASN1_STRING_get0_data(octets);
  return {data, data + ASN1_STRING_length(octets)};
}

bool has_java_trust_mark(const PKCS12_SAFEBAG* bag) {
  const STACK_OF(X509_ATTRIBUTE)* attributes = PKCS12_SAFEBAG_get0_attrs(bag);
  for (int i = 0; i < sk_X509_ATTRIBUTE_num(attributes); ++i) {
    char oid[80] = {};
    OBJ_obj2txt(oid, sizeof oid, X509_ATTRIBUTE_get0_object(sk_X509_ATTRIBUTE_value(attributes, i)), 1);
    if (java_trusted_oid == oid) return true;
  }
  return false;
}

std::string named(const std::string& alias) {
  return alias.empty() ? "an entry without alias" : "entry '" + alias + "'";
}

// Why decrypting failed: a wrong password, or an algorithm OpenSSL 3 keeps
// in its legacy provider (RC2-40, which Java 8 and `openssl pkcs12 -legacy`
// use for certificates). We do not load that provider: it would enable its
// algorithms process-wide.
store_failure classify_decrypt_failure(std::string& detail) {
  bool unsupported = false;
  unsigned long code = 0;
  std::string text;
  while ((code = ERR_get_error()) != 0) {
    const int reason = ERR_GET_REASON(code);
    if (reason == ERR_R_UNSUPPORTED || reason == ERR_R_FETCH_FAILED ||
        (ERR_GET_LIB(code) == ERR_LIB_EVP &&
         (reason == EVP_R_UNSUPPORTED_ALGORITHM || reason == EVP_R_UNKNOWN_CIPHER ||
          reason == EVP_R_UNKNOWN_PBE_ALGORITHM || reason == EVP_R_UNSUPPORTED_CIPHER)))
      unsupported = true;
    const char* r = ERR_reason_error_string(code);
    const std::string part = r ? r : "error code " + std::to_string(reason);
    if (text.find(part) == std::string::npos) text += (text.empty() ? "" : "; ") + part;
  }
  detail = text.empty() ? "decryption failed" : text;
  return unsupported ? store_failure::unsupported : store_failure::wrong_password;
}

constexpr const char* legacy_hint =
    " (the store is encrypted with a legacy algorithm OpenSSL 3 does not enable, such as the RC2-40 that Java 8 "
    "and `openssl pkcs12 -legacy` write; convert it with a current keytool -importkeystore, see docs/keystores.md)";

bool read_bags(walk& out, const STACK_OF(PKCS12_SAFEBAG) * bags, std::string_view password, int depth) {
  for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); ++i) {
    PKCS12_SAFEBAG* bag = sk_PKCS12_SAFEBAG_value(bags, i);
    const std::string alias = friendly_name(bag);
    switch (PKCS12_SAFEBAG_get_nid(bag)) {
      case NID_keyBag: {
        key_bag key{alias, local_key_id(bag), {}, nullptr};
        key.plain_key.reset(EVP_PKCS82PKEY(PKCS12_SAFEBAG_get0_p8inf(bag)));
        if (!key.plain_key)
          return out.fail(store_failure::malformed, named(alias) + ": unreadable private key: " + ossl::drain_errors());
        out.keys.push_back(std::move(key));
        break;
      }
      case NID_pkcs8ShroudedKeyBag: {
        key_bag key{alias, local_key_id(bag), {}, nullptr};
        unsigned char* der = nullptr;
        const int length = i2d_X509_SIG(PKCS12_SAFEBAG_get0_pkcs8(bag), &der);
        if (length <= 0)
          return out.fail(store_failure::malformed, named(alias) + ": unreadable private key: " + ossl::drain_errors());
        key.encrypted_key.assign(der, der + length);
        OPENSSL_free(der);
        out.keys.push_back(std::move(key));
        break;
      }
      case NID_certBag: {
        if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
          return out.fail(store_failure::unsupported, named(alias) + ": certificate type " +
                                                          OBJ_nid2sn(PKCS12_SAFEBAG_get_bag_nid(bag)) +
                                                          " is not supported (only X.509)");
        ossl::x509_ptr cert(PKCS12_SAFEBAG_get1_cert(bag));
        if (!cert)
          return out.fail(store_failure::malformed, named(alias) + ": unreadable certificate: " + ossl::drain_errors());
        out.certs.push_back({std::move(cert), alias, local_key_id(bag), has_java_trust_mark(bag), false});
        break;
      }
      case NID_safeContentsBag:
        if (depth >= max_nesting)
          return out.fail(store_failure::malformed,
                          "safe contents nested more than " + std::to_string(max_nesting) + " deep");
        if (!read_bags(out, PKCS12_SAFEBAG_get0_safes(bag), password, depth + 1)) return false;
        break;
      case NID_secretBag:
        return out.fail(
            store_failure::unsupported,
            named(alias) + " is a secret key; only private-key and trusted-certificate entries are supported");
      case NID_crlBag:
        break;  // revocation lists are not entries; nothing here uses them
      default:
        return out.fail(store_failure::unsupported,
                        named(alias) + ": unknown bag type " + std::to_string(PKCS12_SAFEBAG_get_nid(bag)));
    }
  }
  return true;
}

bool verify_mac(PKCS12* p12, std::string_view password, walk& out) {
  if (!PKCS12_mac_present(p12)) return true;
  ERR_clear_error();
  if (PKCS12_verify_mac(p12, password.data(), static_cast<int>(password.size())) == 1) return true;
  // A mismatch leaves OpenSSL's error queue empty; anything queued means the
  // MAC could not be computed at all (an algorithm this OpenSSL lacks).
  if (ERR_peek_error() == 0)
    return out.fail(store_failure::wrong_password, "wrong password: integrity check failed (MAC verification failed)");
  return out.fail(store_failure::unsupported, "cannot verify the integrity MAC: " + ossl::drain_errors());
}

bool read_authsafes(PKCS12* p12, std::string_view password, walk& out) {
  ERR_clear_error();
  owned<STACK_OF(PKCS7), free_authsafes> safes(PKCS12_unpack_authsafes(p12));
  if (!safes) return out.fail(store_failure::malformed, "unreadable contents: " + ossl::drain_errors());
  for (int i = 0; i < sk_PKCS7_num(safes.get()); ++i) {
    PKCS7* p7 = sk_PKCS7_value(safes.get(), i);
    owned<STACK_OF(PKCS12_SAFEBAG), free_bags> bags;
    ERR_clear_error();
    if (PKCS7_type_is_data(p7)) {
      bags.reset(PKCS12_unpack_p7data(p7));
      if (!bags) return out.fail(store_failure::malformed, "unreadable contents: " + ossl::drain_errors());
    } else if (PKCS7_type_is_encrypted(p7)) {
      bags.reset(PKCS12_unpack_p7encdata(p7, password.data(), static_cast<int>(password.size())));
      if (!bags) {
        std::string detail;
        const store_failure kind = classify_decrypt_failure(detail);
        if (kind == store_failure::unsupported)
          return out.fail(kind, "cannot decrypt the certificates: " + detail + legacy_hint);
        return out.fail(kind, "wrong password: cannot decrypt the certificates (" + detail + ")");
      }
    } else {
      return out.fail(store_failure::unsupported,
                      "contents protected with public-key encryption are not supported (only password-based)");
    }
    if (!read_bags(out, bags.get(), password, 0)) return false;
  }
  return true;
}

bool same_id(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) { return !a.empty() && a == b; }

// The key's certificate is the one with the same localKeyId; the rest of the
// chain is not linked by attributes (Java and OpenSSL store the CA
// certificates bare), so it is rebuilt by issuer, as Java does.
std::vector<ossl::x509_ptr> chain_of(const key_bag& key, std::vector<cert_bag>& certs) {
  std::vector<ossl::x509_ptr> chain;
  cert_bag* leaf = nullptr;
  for (auto& c : certs)
    if (same_id(c.local_key_id, key.local_key_id)) leaf = &c;
  if (leaf == nullptr && !key.alias.empty())
    for (auto& c : certs)
      if (c.local_key_id.empty() && !c.marked_trusted && c.alias == key.alias) leaf = &c;
  if (leaf == nullptr) return chain;
  leaf->used = true;
  X509_up_ref(leaf->cert.get());
  chain.emplace_back(leaf->cert.get());
  for (std::size_t round = 0; round < certs.size(); ++round) {
    X509* current = chain.back().get();
    if (X509_check_issued(current, current) == X509_V_OK) break;  // self-signed: the root
    cert_bag* issuer = nullptr;
    for (auto& c : certs) {
      if (c.local_key_id.empty() && X509_check_issued(c.cert.get(), current) == X509_V_OK &&
          std::none_of(chain.begin(), chain.end(), [&](const ossl::x509_ptr& x) { return x.get() == c.cert.get(); }))
        issuer = &c;
    }
    if (issuer == nullptr) break;
    issuer->used = true;
    X509_up_ref(issuer->cert.get());
    chain.emplace_back(issuer->cert.get());
  }
  ERR_clear_error();
  return chain;
}

}  // namespace

store_read read_pkcs12(std::span<const std::uint8_t> bytes, std::string_view password) {
  store_read result;
  ERR_clear_error();
  const unsigned char* p = bytes.data();
  owned<PKCS12, PKCS12_free> p12(d2i_PKCS12(nullptr, &p, static_cast<long>(bytes.size())));
  if (!p12) {
    result.failure = store_failure::malformed;
    result.error = "not a PKCS#12 or JKS keystore (" + ossl::drain_errors("DER decoding failed") + ")";
    return result;
  }
  walk w;
  if (!verify_mac(p12.get(), password, w) || !read_authsafes(p12.get(), password, w)) {
    result.failure = w.failure;
    result.error = std::move(w.error);
    ERR_clear_error();
    return result;
  }
  store_contents contents;
  for (auto& key : w.keys) {
    store_key_entry entry;
    entry.alias = key.alias;
    entry.chain = chain_of(key, w.certs);
    entry.encrypted_key = std::move(key.encrypted_key);
    entry.plain_key = std::move(key.plain_key);
    contents.keys.push_back(std::move(entry));
  }
  const bool java_marks =
      std::any_of(w.certs.begin(), w.certs.end(), [](const cert_bag& c) { return c.marked_trusted; });
  for (auto& c : w.certs) {
    if (java_marks ? c.marked_trusted : (!c.used && c.local_key_id.empty()))
      contents.trusted.push_back({c.alias, std::move(c.cert)});
  }
  result.contents = std::move(contents);
  return result;
}

ossl::pkey_ptr decrypt_pkcs12_key(std::span<const std::uint8_t> encrypted_key, std::string_view password,
                                  std::string& error) {
  ERR_clear_error();
  const unsigned char* p = encrypted_key.data();
  owned<X509_SIG, X509_SIG_free> sig(d2i_X509_SIG(nullptr, &p, static_cast<long>(encrypted_key.size())));
  if (!sig) {
    error = "unreadable private key: " + ossl::drain_errors();
    return nullptr;
  }
  owned<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free> info(
      PKCS8_decrypt(sig.get(), password.data(), static_cast<int>(password.size())));
  if (!info) {
    std::string detail;
    error = classify_decrypt_failure(detail) == store_failure::unsupported
                ? "cannot decrypt the private key: " + detail + legacy_hint
                : "wrong password for the private key (" + detail + ")";
    return nullptr;
  }
  ossl::pkey_ptr key(EVP_PKCS82PKEY(info.get()));
  if (!key) error = "unreadable private key: " + ossl::drain_errors();
  return key;
}

}  // namespace mtlsd::tls::detail
