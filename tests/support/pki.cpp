// The test certificate authority (pki.hpp). Owned by the identity helper;
// used by unit and integration tests alike. Everything is built with the
// object API rather than config strings ("DNS:a.example") because those
// cannot carry embedded NUL bytes, and the odd cases are the point.

#include "pki.hpp"

#include <arpa/inet.h>
#include <stdlib.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/dsa.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "secret_audit.hpp"

namespace mtlsd::test {
namespace {

template <typename T, void (*Free)(T*)>
struct free_fn {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using owned = std::unique_ptr<T, free_fn<T, Free>>;

using bio_ptr = owned<BIO, BIO_free_all>;
using bn_ptr = owned<BIGNUM, BN_free>;
using asn1_integer_ptr = owned<ASN1_INTEGER, ASN1_INTEGER_free>;
using asn1_octet_ptr = owned<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using asn1_bits_ptr = owned<ASN1_BIT_STRING, ASN1_BIT_STRING_free>;
using asn1_ia5_ptr = owned<ASN1_IA5STRING, ASN1_IA5STRING_free>;
using general_name_ptr = owned<GENERAL_NAME, GENERAL_NAME_free>;
using general_names_ptr = owned<GENERAL_NAMES, GENERAL_NAMES_free>;
using basic_constraints_ptr = owned<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>;
using akid_ptr = owned<AUTHORITY_KEYID, AUTHORITY_KEYID_free>;
using eku_ptr = owned<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>;
using name_constraints_ptr = owned<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free>;
using general_subtree_ptr = owned<GENERAL_SUBTREE, GENERAL_SUBTREE_free>;
using pkey_ctx_ptr = owned<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;

// Drains OpenSSL's thread-local error queue into the exception text so a
// failing test says why (and later calls do not see stale errors).
[[noreturn]] void fail(const std::string& what) {
  std::string text = "test pki: " + what;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(code, buf.data(), buf.size());
    text += "; ";
    text += buf.data();
  }
  throw std::runtime_error(text);
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

// DSA domain parameters take a while to generate; one set serves every key.
EVP_PKEY* dsa_parameters() {
  static EVP_PKEY* const params = [] {
    pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DSA", nullptr));
    EVP_PKEY* out = nullptr;
    check(ctx && EVP_PKEY_paramgen_init(ctx.get()) == 1 &&
              EVP_PKEY_CTX_set_dsa_paramgen_bits(ctx.get(), 2048) == 1 && EVP_PKEY_paramgen(ctx.get(), &out) == 1,
          "DSA parameter generation");
    return out;
  }();
  return params;
}

EVP_PKEY* dsa_key() {
  pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, dsa_parameters(), nullptr));
  EVP_PKEY* key = nullptr;
  check(ctx && EVP_PKEY_keygen_init(ctx.get()) == 1 && EVP_PKEY_keygen(ctx.get(), &key) == 1,
        "DSA key generation");
  return key;
}

pkey_ptr generate_key(key_kind kind) {
  EVP_PKEY* key = nullptr;
  switch (kind) {
    case key_kind::ec_p256:
      key = EVP_EC_gen("P-256");
      break;
    case key_kind::rsa2048:
      key = EVP_RSA_gen(2048);
      break;
    case key_kind::rsa1024:
      key = EVP_RSA_gen(1024);
      break;
    case key_kind::ec_p224:
      key = EVP_EC_gen("P-224");
      break;
    case key_kind::dsa2048:
      key = dsa_key();
      break;
    case key_kind::ed25519:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  check(key != nullptr, "key generation failed");
  return pkey_ptr(key);
}

// RFC 5280 4.1.2.2: positive, at most 20 octets. 128 random bits with the top
// bit cleared keeps the DER INTEGER positive without a leading zero octet.
void set_random_serial(X509* cert) {
  std::array<unsigned char, 16> bytes{};
  check(RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) == 1, "RAND_bytes");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
  bn_ptr bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  check(bn != nullptr, "BN_bin2bn");
  asn1_integer_ptr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  check(serial != nullptr, "BN_to_ASN1_INTEGER");
  check(X509_set_serialNumber(cert, serial.get()) == 1, "X509_set_serialNumber");
}

void add_name_entries(X509_NAME* name, int nid, const std::vector<std::string>& values) {
  for (const auto& value : values) {
    // Explicit length: -1 would mean strlen() and cut at the first NUL.
    const int ok = X509_NAME_add_entry_by_NID(
        name, nid, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.data()),
        static_cast<int>(value.size()), -1, 0);
    check(ok == 1, "X509_NAME_add_entry_by_NID");
  }
}

void push_name(GENERAL_NAMES* names, general_name_ptr name) {
  check(sk_GENERAL_NAME_push(names, name.get()) > 0, "sk_GENERAL_NAME_push");
  name.release();  // owned by the stack now
}

void add_ia5_names(GENERAL_NAMES* names, int type, const std::vector<std::string>& values) {
  for (const auto& value : values) {
    asn1_ia5_ptr text(ASN1_IA5STRING_new());
    check(text != nullptr, "ASN1_IA5STRING_new");
    check(ASN1_STRING_set(text.get(), value.data(), static_cast<int>(value.size())) == 1,
          "ASN1_STRING_set");
    general_name_ptr name(GENERAL_NAME_new());
    check(name != nullptr, "GENERAL_NAME_new");
    GENERAL_NAME_set0_value(name.get(), type, text.release());
    push_name(names, std::move(name));
  }
}

void add_ip_names(GENERAL_NAMES* names, const std::vector<std::string>& values) {
  for (const auto& value : values) {
    std::array<unsigned char, 16> octets{};
    int length = 0;
    if (inet_pton(AF_INET, value.c_str(), octets.data()) == 1) {
      length = 4;
    } else if (inet_pton(AF_INET6, value.c_str(), octets.data()) == 1) {
      length = 16;
    } else {
      throw std::runtime_error("test pki: not an IP address: " + value);
    }
    asn1_octet_ptr text(ASN1_OCTET_STRING_new());
    check(text != nullptr, "ASN1_OCTET_STRING_new");
    check(ASN1_OCTET_STRING_set(text.get(), octets.data(), length) == 1, "ASN1_OCTET_STRING_set");
    general_name_ptr name(GENERAL_NAME_new());
    check(name != nullptr, "GENERAL_NAME_new");
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, text.release());
    push_name(names, std::move(name));
  }
}

void add_subject_alt_names(X509* cert, const cert_spec& spec) {
  general_names_ptr names(sk_GENERAL_NAME_new_null());
  check(names != nullptr, "sk_GENERAL_NAME_new_null");
  add_ia5_names(names.get(), GEN_DNS, spec.dns);
  add_ia5_names(names.get(), GEN_URI, spec.uri);
  add_ia5_names(names.get(), GEN_EMAIL, spec.email);
  add_ip_names(names.get(), spec.ip);
  if (sk_GENERAL_NAME_num(names.get()) == 0) return;
  // RFC 5280 4.2.1.6: with an empty subject the SAN extension must be critical.
  const int critical = X509_NAME_entry_count(X509_get_subject_name(cert)) == 0 ? 1 : 0;
  check(X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), critical, X509V3_ADD_DEFAULT) == 1,
        "add subjectAltName");
}

void add_basic_constraints(X509* cert, const cert_spec& spec) {
  basic_constraints_ptr bc(BASIC_CONSTRAINTS_new());
  check(bc != nullptr, "BASIC_CONSTRAINTS_new");
  bc->ca = spec.is_ca ? 0xff : 0;
  if (spec.is_ca && spec.path_len) {
    bc->pathlen = ASN1_INTEGER_new();
    check(bc->pathlen != nullptr, "ASN1_INTEGER_new");
    check(ASN1_INTEGER_set(bc->pathlen, *spec.path_len) == 1, "ASN1_INTEGER_set");
  }
  check(X509_add1_ext_i2d(cert, NID_basic_constraints, bc.get(), 1, X509V3_ADD_DEFAULT) == 1,
        "add basicConstraints");
}

// Bit numbers from RFC 5280 4.2.1.3.
constexpr int ku_digital_signature = 0;
constexpr int ku_key_encipherment = 2;
constexpr int ku_key_cert_sign = 5;
constexpr int ku_crl_sign = 6;

constexpr int ku_key_agreement = 4;

int key_usage_bit_number(key_usage_kind kind) {
  switch (kind) {
    case key_usage_kind::digital_signature: return ku_digital_signature;
    case key_usage_kind::key_encipherment: return ku_key_encipherment;
    case key_usage_kind::key_agreement: return ku_key_agreement;
    case key_usage_kind::key_cert_sign: return ku_key_cert_sign;
    case key_usage_kind::crl_sign: return ku_crl_sign;
  }
  return ku_digital_signature;
}

void add_key_usage(X509* cert, const cert_spec& spec) {
  if (spec.key_usage && spec.key_usage->empty()) return;
  asn1_bits_ptr bits(ASN1_BIT_STRING_new());
  check(bits != nullptr, "ASN1_BIT_STRING_new");
  auto set = [&](int bit) { check(ASN1_BIT_STRING_set_bit(bits.get(), bit, 1) == 1, "set keyUsage bit"); };
  if (spec.key_usage) {
    for (const key_usage_kind kind : *spec.key_usage) set(key_usage_bit_number(kind));
  } else if (spec.is_ca) {
    set(ku_key_cert_sign);
    set(ku_crl_sign);
  } else {
    set(ku_digital_signature);
    if (spec.key == key_kind::rsa2048 || spec.key == key_kind::rsa1024) set(ku_key_encipherment);
  }
  check(X509_add1_ext_i2d(cert, NID_key_usage, bits.get(), 1, X509V3_ADD_DEFAULT) == 1, "add keyUsage");
}

void add_extended_key_usage(X509* cert, const cert_spec& spec) {
  if ((spec.is_ca && !spec.eku_on_ca) || spec.eku == eku_kind::none) return;
  eku_ptr eku(sk_ASN1_OBJECT_new_null());
  check(eku != nullptr, "sk_ASN1_OBJECT_new_null");
  auto push = [&](int nid) {
    ASN1_OBJECT* obj = OBJ_nid2obj(nid);
    check(obj != nullptr && sk_ASN1_OBJECT_push(eku.get(), obj) > 0, "push EKU");
  };
  if (spec.eku == eku_kind::server_auth || spec.eku == eku_kind::both) push(NID_server_auth);
  if (spec.eku == eku_kind::client_auth || spec.eku == eku_kind::both) push(NID_client_auth);
  if (spec.eku == eku_kind::ocsp_signing) push(NID_OCSP_sign);
  check(X509_add1_ext_i2d(cert, NID_ext_key_usage, eku.get(), 0, X509V3_ADD_DEFAULT) == 1,
        "add extendedKeyUsage");
}

// "dns:.partner.example", "email:...", "uri:...", "ip:10.9.0.0/16".
general_name_ptr subtree_base(const std::string& text) {
  const std::size_t colon = text.find(':');
  if (colon == std::string::npos) throw std::runtime_error("test pki: name constraint without a type: " + text);
  const std::string type = text.substr(0, colon);
  const std::string value = text.substr(colon + 1);
  general_names_ptr one(sk_GENERAL_NAME_new_null());
  check(one != nullptr, "sk_GENERAL_NAME_new_null");
  if (type == "dns" || type == "email" || type == "uri") {
    add_ia5_names(one.get(), type == "dns" ? GEN_DNS : type == "email" ? GEN_EMAIL : GEN_URI, {value});
  } else if (type == "ip") {
    const std::size_t slash = value.find('/');
    if (slash == std::string::npos) throw std::runtime_error("test pki: ip constraint needs /prefix: " + text);
    std::array<unsigned char, 32> octets{};
    int length = 0;
    const std::string address = value.substr(0, slash);
    if (inet_pton(AF_INET, address.c_str(), octets.data()) == 1) {
      length = 4;
    } else if (inet_pton(AF_INET6, address.c_str(), octets.data()) == 1) {
      length = 16;
    } else {
      throw std::runtime_error("test pki: not an IP address: " + address);
    }
    const int prefix = std::stoi(value.substr(slash + 1));
    for (int bit = 0; bit < prefix && bit < length * 8; ++bit) {
      octets[static_cast<std::size_t>(length + bit / 8)] |= static_cast<unsigned char>(0x80 >> (bit % 8));
    }
    asn1_octet_ptr ip(ASN1_OCTET_STRING_new());
    check(ip != nullptr && ASN1_OCTET_STRING_set(ip.get(), octets.data(), 2 * length) == 1, "ip subtree");
    general_name_ptr name(GENERAL_NAME_new());
    check(name != nullptr, "GENERAL_NAME_new");
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, ip.release());
    push_name(one.get(), std::move(name));
  } else {
    throw std::runtime_error("test pki: unknown name constraint type: " + text);
  }
  return general_name_ptr(sk_GENERAL_NAME_pop(one.get()));
}

void add_name_constraints(X509* cert, const cert_spec& spec) {
  if (spec.permitted_names.empty() && spec.excluded_names.empty()) return;
  name_constraints_ptr nc(NAME_CONSTRAINTS_new());
  check(nc != nullptr, "NAME_CONSTRAINTS_new");
  auto add = [&](STACK_OF(GENERAL_SUBTREE) * &trees, const std::vector<std::string>& names) {
    for (const auto& text : names) {
      if (trees == nullptr) trees = sk_GENERAL_SUBTREE_new_null();
      check(trees != nullptr, "sk_GENERAL_SUBTREE_new_null");
      general_subtree_ptr subtree(GENERAL_SUBTREE_new());
      check(subtree != nullptr, "GENERAL_SUBTREE_new");
      GENERAL_NAME_free(subtree->base);
      subtree->base = subtree_base(text).release();
      check(sk_GENERAL_SUBTREE_push(trees, subtree.get()) > 0, "sk_GENERAL_SUBTREE_push");
      subtree.release();
    }
  };
  add(nc->permittedSubtrees, spec.permitted_names);
  add(nc->excludedSubtrees, spec.excluded_names);
  // RFC 5280 4.2.1.10: conforming CAs mark it critical.
  check(X509_add1_ext_i2d(cert, NID_name_constraints, nc.get(), 1, X509V3_ADD_DEFAULT) == 1,
        "add nameConstraints");
}

void add_crl_distribution_points(X509* cert, const cert_spec& spec) {
  if (spec.crl_distribution_points.empty()) return;
  CRL_DIST_POINTS* points = sk_DIST_POINT_new_null();
  check(points != nullptr, "sk_DIST_POINT_new_null");
  for (const auto& uri : spec.crl_distribution_points) {
    DIST_POINT* point = DIST_POINT_new();
    DIST_POINT_NAME* name = DIST_POINT_NAME_new();
    GENERAL_NAME* general = GENERAL_NAME_new();
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    check(point && name && general && text && ASN1_STRING_set(text, uri.data(), static_cast<int>(uri.size())) == 1,
          "distribution point");
    GENERAL_NAME_set0_value(general, GEN_URI, text);
    name->type = 0;
    name->name.fullname = sk_GENERAL_NAME_new_null();
    sk_GENERAL_NAME_push(name->name.fullname, general);
    point->distpoint = name;
    sk_DIST_POINT_push(points, point);
  }
  const int added = X509_add1_ext_i2d(cert, NID_crl_distribution_points, points, 0, X509V3_ADD_DEFAULT);
  sk_DIST_POINT_pop_free(points, DIST_POINT_free);
  check(added == 1, "add cRLDistributionPoints");
}

// RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING.
// Returned so a self-signed certificate can reuse it as its AKI without
// asking the half-built certificate (which would cache its extensions early).
asn1_octet_ptr add_subject_key_id(X509* cert) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int length = 0;
  check(X509_pubkey_digest(cert, EVP_sha1(), md.data(), &length) == 1, "X509_pubkey_digest");
  asn1_octet_ptr id(ASN1_OCTET_STRING_new());
  check(id != nullptr, "ASN1_OCTET_STRING_new");
  check(ASN1_OCTET_STRING_set(id.get(), md.data(), static_cast<int>(length)) == 1, "ASN1_OCTET_STRING_set");
  check(X509_add1_ext_i2d(cert, NID_subject_key_identifier, id.get(), 0, X509V3_ADD_DEFAULT) == 1,
        "add subjectKeyIdentifier");
  return id;
}

void add_authority_key_id(X509* cert, const ASN1_OCTET_STRING* issuer_id) {
  if (issuer_id == nullptr) return;  // an issuer made elsewhere without an SKI
  akid_ptr akid(AUTHORITY_KEYID_new());
  check(akid != nullptr, "AUTHORITY_KEYID_new");
  akid->keyid = ASN1_OCTET_STRING_dup(issuer_id);
  check(akid->keyid != nullptr, "ASN1_OCTET_STRING_dup");
  check(X509_add1_ext_i2d(cert, NID_authority_key_identifier, akid.get(), 0, X509V3_ADD_DEFAULT) == 1,
        "add authorityKeyIdentifier");
}

// issuer_cert/issuer_key null: self-signed with the new key.
issued build(const cert_spec& spec, X509* issuer_cert, EVP_PKEY* issuer_key) {
  issued out;
  out.key = generate_key(spec.key);
  out.cert.reset(X509_new());
  X509* cert = out.cert.get();
  check(cert != nullptr, "X509_new");
  check(X509_set_version(cert, X509_VERSION_3) == 1, "X509_set_version");
  set_random_serial(cert);

  X509_NAME* subject = X509_get_subject_name(cert);
  add_name_entries(subject, NID_organizationName, spec.o);
  add_name_entries(subject, NID_organizationalUnitName, spec.ou);
  add_name_entries(subject, NID_commonName, spec.cn);
  const X509_NAME* issuer_name =
      issuer_cert != nullptr ? X509_get_subject_name(issuer_cert) : subject;
  check(X509_set_issuer_name(cert, issuer_name) == 1, "X509_set_issuer_name");

  check(X509_gmtime_adj(X509_getm_notBefore(cert), static_cast<long>(spec.not_before.count())) != nullptr,
        "set notBefore");
  check(X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(spec.not_after.count())) != nullptr,
        "set notAfter");
  if (spec.not_before_unix)
    check(ASN1_TIME_set(X509_getm_notBefore(cert), static_cast<time_t>(*spec.not_before_unix)) != nullptr,
          "set notBefore");
  if (spec.not_after_unix)
    check(ASN1_TIME_set(X509_getm_notAfter(cert), static_cast<time_t>(*spec.not_after_unix)) != nullptr,
          "set notAfter");
  check(X509_set_pubkey(cert, out.key.get()) == 1, "X509_set_pubkey");

  add_basic_constraints(cert, spec);
  add_key_usage(cert, spec);
  add_extended_key_usage(cert, spec);
  const auto own_id = add_subject_key_id(cert);
  add_authority_key_id(cert, issuer_cert != nullptr ? X509_get0_subject_key_id(issuer_cert) : own_id.get());
  add_subject_alt_names(cert, spec);
  add_name_constraints(cert, spec);
  add_crl_distribution_points(cert, spec);

  EVP_PKEY* signer = issuer_key != nullptr ? issuer_key : out.key.get();
  // EdDSA signs the message itself: no separate digest may be named.
  const bool eddsa = EVP_PKEY_is_a(signer, "ED25519") || EVP_PKEY_is_a(signer, "ED448");
  check(X509_sign(cert, signer, eddsa ? nullptr : EVP_sha256()) > 0, "X509_sign");

  // Re-parse the signed DER so tests hold exactly what a peer would receive,
  // with no state cached while the certificate was still being assembled.
  unsigned char* der = nullptr;
  const int der_length = i2d_X509(cert, &der);
  check(der_length > 0, "i2d_X509");
  const unsigned char* cursor = der;
  x509_ptr parsed(d2i_X509(nullptr, &cursor, der_length));
  OPENSSL_free(der);
  check(parsed != nullptr, "d2i_X509");
  out.cert = std::move(parsed);
  return out;
}

std::string drain(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  check(length >= 0, "BIO_get_mem_data");
  return std::string(data, static_cast<std::size_t>(length));
}

bio_ptr memory_bio() {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  check(bio != nullptr, "BIO_new");
  return bio;
}

}  // namespace

std::string issued::cert_pem() const {
  auto bio = memory_bio();
  check(PEM_write_bio_X509(bio.get(), cert.get()) == 1, "PEM_write_bio_X509");
  return drain(bio.get());
}

std::string issued::key_pem() const {
  auto bio = memory_bio();
  check(PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PKCS8PrivateKey");
  return drain(bio.get());
}

std::string issued::key_pem_encrypted(const std::string& password) const {
  auto bio = memory_bio();
  // The password buffer is only read; the API predates const-correctness.
  const int ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(),
                                               const_cast<char*>(password.data()),
                                               static_cast<int>(password.size()), nullptr, nullptr);
  check(ok == 1, "PEM_write_bio_PKCS8PrivateKey (encrypted)");
  return drain(bio.get());
}

std::string issued::sha256_hex() const {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int length = 0;
  check(X509_digest(cert.get(), EVP_sha256(), md.data(), &length) == 1, "X509_digest");
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += digits[md[i] >> 4];
    hex += digits[md[i] & 0x0f];
  }
  return hex;
}

issued make_self_signed(const cert_spec& spec) { return build(spec, nullptr, nullptr); }

issued issue(const cert_spec& spec, const issued& issuer) {
  if (!issuer.cert || !issuer.key) throw std::invalid_argument("test pki: issuer without cert or key");
  return build(spec, issuer.cert.get(), issuer.key.get());
}

std::string crl_made::pem() const {
  auto bio = memory_bio();
  check(PEM_write_bio_X509_CRL(bio.get(), crl.get()) == 1, "PEM_write_bio_X509_CRL");
  return drain(bio.get());
}

std::string crl_made::der() const {
  unsigned char* der = nullptr;
  const int length = i2d_X509_CRL(crl.get(), &der);
  check(length > 0, "i2d_X509_CRL");
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return out;
}

crl_made make_crl(const crl_spec& spec, const issued& issuer) {
  if (!issuer.cert || !issuer.key) throw std::invalid_argument("test pki: CRL issuer without cert or key");
  crl_made out;
  out.crl.reset(X509_CRL_new());
  X509_CRL* crl = out.crl.get();
  check(crl != nullptr, "X509_CRL_new");
  check(X509_CRL_set_version(crl, 1) == 1, "X509_CRL_set_version");  // v2: extensions allowed
  check(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer.cert.get())) == 1, "X509_CRL_set_issuer_name");
  owned<ASN1_TIME, ASN1_TIME_free> this_update(X509_gmtime_adj(nullptr, static_cast<long>(spec.this_update.count())));
  check(this_update != nullptr && X509_CRL_set1_lastUpdate(crl, this_update.get()) == 1, "set thisUpdate");
  if (spec.next_update) {
    owned<ASN1_TIME, ASN1_TIME_free> next(X509_gmtime_adj(nullptr, static_cast<long>(spec.next_update->count())));
    check(next != nullptr && X509_CRL_set1_nextUpdate(crl, next.get()) == 1, "set nextUpdate");
  }
  for (const auto& entry : spec.revoked) {
    owned<X509_REVOKED, X509_REVOKED_free> revoked(X509_REVOKED_new());
    check(revoked != nullptr, "X509_REVOKED_new");
    // The setter copies the serial; its parameter is just not const.
    check(X509_REVOKED_set_serialNumber(revoked.get(),
                                        const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(entry.cert->cert.get()))) == 1,
          "X509_REVOKED_set_serialNumber");
    owned<ASN1_TIME, ASN1_TIME_free> when(X509_gmtime_adj(nullptr, static_cast<long>(entry.revoked.count())));
    check(when != nullptr && X509_REVOKED_set_revocationDate(revoked.get(), when.get()) == 1, "set revocationDate");
    if (entry.reason) {
      owned<ASN1_ENUMERATED, ASN1_ENUMERATED_free> code(ASN1_ENUMERATED_new());
      check(code != nullptr && ASN1_ENUMERATED_set(code.get(), *entry.reason) == 1, "ASN1_ENUMERATED_set");
      check(X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, code.get(), 0, 0) == 1, "add CRLReason");
    }
    check(X509_CRL_add0_revoked(crl, revoked.get()) == 1, "X509_CRL_add0_revoked");
    revoked.release();  // owned by the CRL now
  }
  // RFC 5280 5.2.1: the authority key identifier lets the verifier pick the right issuer key.
  if (const ASN1_OCTET_STRING* key_id = X509_get0_subject_key_id(issuer.cert.get())) {
    akid_ptr akid(AUTHORITY_KEYID_new());
    check(akid != nullptr, "AUTHORITY_KEYID_new");
    akid->keyid = ASN1_OCTET_STRING_dup(key_id);
    check(X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid.get(), 0, 0) == 1, "add CRL AKID");
  }
  if (spec.crl_number) {
    owned<ASN1_INTEGER, ASN1_INTEGER_free> number(ASN1_INTEGER_new());
    check(number != nullptr && ASN1_INTEGER_set(number.get(), *spec.crl_number) == 1, "ASN1_INTEGER_set");
    check(X509_CRL_add1_ext_i2d(crl, NID_crl_number, number.get(), 0, 0) == 1, "add cRLNumber");
  }
  if (spec.unknown_critical_extension) {
    owned<ASN1_OBJECT, ASN1_OBJECT_free> oid(OBJ_txt2obj("1.3.6.1.4.1.55555.1", 1));
    asn1_octet_ptr value(ASN1_OCTET_STRING_new());
    check(oid != nullptr && value != nullptr, "private OID");
    const unsigned char null_der[] = {0x05, 0x00};
    check(ASN1_OCTET_STRING_set(value.get(), null_der, sizeof null_der) == 1, "ASN1_OCTET_STRING_set");
    owned<X509_EXTENSION, X509_EXTENSION_free> ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 1, value.get()));
    check(ext != nullptr && X509_CRL_add_ext(crl, ext.get(), -1) == 1, "add critical extension");
  }
  check(X509_CRL_sort(crl) == 1, "X509_CRL_sort");
  EVP_PKEY* signer = spec.forged_by ? spec.forged_by->key.get() : issuer.key.get();
  check(X509_CRL_sign(crl, signer, EVP_sha256()) > 0, "X509_CRL_sign");
  return out;
}

std::string make_ocsp_response(const ocsp_spec& spec, const issued& cert, const issued& issuer) {
  owned<OCSP_BASICRESP, OCSP_BASICRESP_free> basic(OCSP_BASICRESP_new());
  check(basic != nullptr, "OCSP_BASICRESP_new");
  OCSP_CERTID* id = OCSP_cert_to_id(EVP_sha1(), cert.cert.get(), issuer.cert.get());
  check(id != nullptr, "OCSP_cert_to_id");
  owned<OCSP_CERTID, OCSP_CERTID_free> id_owner(id);
  owned<ASN1_TIME, ASN1_TIME_free> this_update(X509_gmtime_adj(nullptr, static_cast<long>(spec.this_update.count())));
  owned<ASN1_TIME, ASN1_TIME_free> next_update(
      spec.next_update ? X509_gmtime_adj(nullptr, static_cast<long>(spec.next_update->count())) : nullptr);
  owned<ASN1_TIME, ASN1_TIME_free> revoked_at(X509_gmtime_adj(nullptr, -3600));
  int status = V_OCSP_CERTSTATUS_GOOD;
  if (spec.cert_status == ocsp_spec::status::revoked) status = V_OCSP_CERTSTATUS_REVOKED;
  if (spec.cert_status == ocsp_spec::status::unknown) status = V_OCSP_CERTSTATUS_UNKNOWN;
  check(OCSP_basic_add1_status(basic.get(), id, status, OCSP_REVOKED_STATUS_KEYCOMPROMISE,
                               status == V_OCSP_CERTSTATUS_REVOKED ? revoked_at.get() : nullptr, this_update.get(),
                               next_update.get()) != nullptr,
        "OCSP_basic_add1_status");
  check(OCSP_basic_sign(basic.get(), issuer.cert.get(), issuer.key.get(), EVP_sha256(), nullptr, 0) == 1,
        "OCSP_basic_sign");
  owned<OCSP_RESPONSE, OCSP_RESPONSE_free> response(
      OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic.get()));
  check(response != nullptr, "OCSP_response_create");
  unsigned char* der = nullptr;
  const int length = i2d_OCSP_RESPONSE(response.get(), &der);
  check(length > 0, "i2d_OCSP_RESPONSE");
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return out;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) throw std::runtime_error("test pki: cannot write " + path.string());
  // Private to the owner, as an operator's keys and password files must be:
  // mtlsd refuses secret files that others can read. Tests about exposed
  // files loosen the mode themselves.
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  audit_written_file(path, text);
}

temp_dir::temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "mtlsd-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string random_ticket_key_hex() {
  unsigned char bytes[80];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : bytes) {
    hex += digits[b >> 4];
    hex += digits[b & 0xf];
  }
  return hex;
}

}  // namespace mtlsd::test
