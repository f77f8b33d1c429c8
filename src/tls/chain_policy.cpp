// Chain policy checks (chain_policy.hpp). Owned by the tls module. They run
// inside the verify callback, so nothing here throws or keeps state; the
// costly parts (decoding name constraints, probing names one by one) happen
// only for chains that have constraints or that are being refused.

#include "mtlsd/tls/chain_policy.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <memory>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "mtlsd/identity/identity.hpp"
#include "mtlsd/tls/openssl.hpp"

namespace mtlsd::tls {
namespace {

using name_constraints_ptr = std::unique_ptr<NAME_CONSTRAINTS, ossl::deleter<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, ossl::deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using general_name_ptr = std::unique_ptr<GENERAL_NAME, ossl::deleter<GENERAL_NAME, GENERAL_NAME_free>>;

chain_check passed(std::string detail) { return chain_check{true, rejection_reason::other, std::move(detail), 0}; }

chain_check refused(rejection_reason reason, std::string detail, int verify_error) {
  return chain_check{false, reason, std::move(detail), verify_error};
}

std::string quoted(const std::string& text) { return '"' + text + '"'; }

// IA5String names come from the peer: bytes outside printable ASCII are
// shown as \xNN so a detail never carries control characters.
std::string printable(const ASN1_STRING* value) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  const unsigned char* data = ASN1_STRING_get0_data(value);
  const int length = ASN1_STRING_length(value);
  for (int i = 0; i < length; ++i) {
    const unsigned char c = data[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 0x0f];
    }
  }
  return out;
}

std::string address_text(const unsigned char* octets, int length) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  const int family = length == 4 ? AF_INET : length == 16 ? AF_INET6 : 0;
  if (family == 0 || inet_ntop(family, octets, buf.data(), buf.size()) == nullptr) return "(malformed)";
  return buf.data();
}

// A constraint's iPAddress is address then mask (RFC 5280 4.2.1.10); shown
// as CIDR when the mask is contiguous, which is the only sane kind.
std::string ip_subtree_text(const ASN1_OCTET_STRING* ip) {
  const int length = ASN1_STRING_length(ip);
  const unsigned char* data = ASN1_STRING_get0_data(ip);
  if (length != 8 && length != 32) return address_text(data, length);
  const int half = length / 2;
  int prefix = 0;
  bool contiguous = true;
  for (int i = 0; i < half; ++i) {
    for (int bit = 7; bit >= 0; --bit) {
      const bool set = (data[half + i] >> bit) & 1;
      if (set && prefix != i * 8 + (7 - bit)) contiguous = false;
      if (set) ++prefix;
    }
  }
  const std::string network = address_text(data, half);
  return network + '/' + (contiguous ? std::to_string(prefix) : address_text(data + half, half));
}

// The offending name, in words: `DNS name "api.other.example"`.
std::string name_text(const GENERAL_NAME* name) {
  int type = 0;
  const void* value = GENERAL_NAME_get0_value(name, &type);
  switch (type) {
    case GEN_DNS: return "DNS name " + quoted(printable(static_cast<const ASN1_STRING*>(value)));
    case GEN_EMAIL: return "email " + quoted(printable(static_cast<const ASN1_STRING*>(value)));
    case GEN_URI: return "URI " + quoted(printable(static_cast<const ASN1_STRING*>(value)));
    case GEN_IPADD: {
      const auto* ip = static_cast<const ASN1_OCTET_STRING*>(value);
      return "IP address " + address_text(ASN1_STRING_get0_data(ip), ASN1_STRING_length(ip));
    }
    case GEN_DIRNAME: return "directory name " + quoted(distinguished_name(static_cast<const X509_NAME*>(value)));
    case GEN_OTHERNAME: return "otherName SAN";
    default: return "SAN entry of type " + std::to_string(type);
  }
}

// A subtree as the nameConstraints extension states it: `DNS:.partner.example`.
std::string subtree_text(const GENERAL_NAME* base) {
  int type = 0;
  const void* value = GENERAL_NAME_get0_value(base, &type);
  switch (type) {
    case GEN_DNS: return "DNS:" + printable(static_cast<const ASN1_STRING*>(value));
    case GEN_EMAIL: return "email:" + printable(static_cast<const ASN1_STRING*>(value));
    case GEN_URI: return "URI:" + printable(static_cast<const ASN1_STRING*>(value));
    case GEN_IPADD: return "IP:" + ip_subtree_text(static_cast<const ASN1_OCTET_STRING*>(value));
    case GEN_DIRNAME: return "DirName:" + distinguished_name(static_cast<const X509_NAME*>(value));
    default: return "type " + std::to_string(type);
  }
}

std::string subtrees_text(const STACK_OF(GENERAL_SUBTREE) * trees) {
  std::string out;
  for (int i = 0; i < sk_GENERAL_SUBTREE_num(trees); ++i) {
    if (!out.empty()) out += ", ";
    out += subtree_text(sk_GENERAL_SUBTREE_value(trees, i)->base);
  }
  return out.empty() ? "none" : out;
}

bool has_dns_san(X509* cert) {
  general_names_ptr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    if (sk_GENERAL_NAME_value(names.get(), i)->type == GEN_DNS) return true;
  }
  return false;
}

// NAME_CONSTRAINTS_check judges a whole certificate and says only that some
// name failed. To name it, each name is put alone into a throw-away
// certificate and checked again: the same code decides, so the name reported
// is the one OpenSSL refused. Only run when refusing.
int check_alone(const X509_NAME* subject, const GENERAL_NAME* name, NAME_CONSTRAINTS* nc) {
  ossl::x509_ptr probe(X509_new());
  if (!probe) return X509_V_ERR_OUT_OF_MEM;
  if (subject != nullptr && X509_set_subject_name(probe.get(), subject) != 1) return X509_V_ERR_OUT_OF_MEM;
  if (name != nullptr) {
    general_names_ptr names(sk_GENERAL_NAME_new_null());
    general_name_ptr copy(GENERAL_NAME_dup(name));
    if (!names || !copy || sk_GENERAL_NAME_push(names.get(), copy.get()) <= 0) return X509_V_ERR_OUT_OF_MEM;
    copy.release();
    if (X509_add1_ext_i2d(probe.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1)
      return X509_V_ERR_OUT_OF_MEM;
  }
  // NAME_CONSTRAINTS_check reads the SANs OpenSSL caches with the extension
  // flags; the unsigned probe also makes that caching queue errors we drop.
  ERR_set_mark();
  (void)X509_get_extension_flags(probe.get());
  ERR_pop_to_mark();
  return NAME_CONSTRAINTS_check(probe.get(), nc);
}

struct offender {
  std::string name;  // empty: none found alone (e.g. a limit on the number of names)
  int error = X509_V_OK;
};

// In NAME_CONSTRAINTS_check's own order: subject (directoryName and
// emailAddress attributes), then the SANs; then, for a leaf without a DNS
// SAN, the CN as a DNS name.
offender find_offender(X509* cert, bool leaf, NAME_CONSTRAINTS* nc) {
  const X509_NAME* subject = X509_get_subject_name(cert);
  if (X509_NAME_entry_count(subject) > 0) {
    if (const int rv = check_alone(subject, nullptr, nc); rv != X509_V_OK)
      return {"subject " + quoted(distinguished_name(subject)), rv};
  }
  general_names_ptr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (const int rv = check_alone(nullptr, name, nc); rv != X509_V_OK) return {name_text(name), rv};
  }
  if (leaf && !has_dns_san(cert)) {
    if (const int rv = NAME_CONSTRAINTS_check_CN(cert, nc); rv != X509_V_OK)
      return {"CN of subject " + quoted(distinguished_name(subject)) + " (checked as a DNS name: no DNS SAN)", rv};
  }
  return {};
}

std::string violation_text(const offender& found, int error, X509* ca, const NAME_CONSTRAINTS* nc) {
  const std::string ca_name = "CA " + quoted(distinguished_name(X509_get_subject_name(ca)));
  const std::string name = found.name.empty() ? std::string("a name of the certificate") : found.name;
  const int why = found.name.empty() ? error : found.error;
  const std::string permitted = subtrees_text(nc->permittedSubtrees);
  const std::string excluded = subtrees_text(nc->excludedSubtrees);
  switch (why) {
    case X509_V_ERR_PERMITTED_VIOLATION:
      return name + " is outside the permitted subtrees of " + ca_name + " (permitted: " + permitted + ")";
    case X509_V_ERR_EXCLUDED_VIOLATION:
      return name + " is inside an excluded subtree of " + ca_name + " (excluded: " + excluded + ")";
    default:
      return name + " cannot be checked against the nameConstraints of " + ca_name + ": " +
             X509_verify_cert_error_string(why) + " (permitted: " + permitted + "; excluded: " + excluded + ")";
  }
}

std::string eku_names(std::uint32_t flags) {
  std::string names;
  auto add = [&](std::uint32_t bit, const char* name) {
    if (flags & bit) names += (names.empty() ? "" : ",") + std::string(name);
  };
  add(XKU_SSL_SERVER, "serverAuth");
  add(XKU_SSL_CLIENT, "clientAuth");
  add(XKU_SMIME, "emailProtection");
  add(XKU_CODE_SIGN, "codeSigning");
  add(XKU_OCSP_SIGN, "OCSPSigning");
  add(XKU_TIMESTAMP, "timeStamping");
  add(XKU_ANYEKU, "anyExtendedKeyUsage");
  return names.empty() ? "only other purposes" : names;
}

std::string ec_curve(EVP_PKEY* key) {
  std::array<char, 80> group{};
  std::size_t length = 0;
  if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &length) != 1) return "unknown curve";
  const char* nist = EC_curve_nid2nist(OBJ_txt2nid(group.data()));
  return nist != nullptr ? nist : group.data();
}

}  // namespace

std::string_view to_string(chain_role role) {
  switch (role) {
    case chain_role::leaf: return "leaf";
    case chain_role::intermediate: return "intermediate CA";
    case chain_role::anchor: return "trust anchor";
  }
  return "certificate";
}

chain_role role_at(int index, int chain_length) {
  if (index <= 0) return chain_role::leaf;
  return index >= chain_length - 1 ? chain_role::anchor : chain_role::intermediate;
}

chain_check check_key_strength(X509* cert, chain_role role) {
  const std::string who = std::string(to_string(role)) + " key";
  const int code = role == chain_role::leaf ? X509_V_ERR_EE_KEY_TOO_SMALL : X509_V_ERR_CA_KEY_TOO_SMALL;
  EVP_PKEY* key = cert != nullptr ? X509_get0_pubkey(cert) : nullptr;
  if (key == nullptr) {
    ERR_clear_error();
    return refused(rejection_reason::weak_key, who + " cannot be decoded (unsupported algorithm)", code);
  }
  const int bits = EVP_PKEY_get_bits(key);
  const std::string size = std::to_string(bits) + " bits";
  auto at_least = [&](const std::string& type, int minimum, const std::string& family) {
    if (bits >= minimum) return passed(who + " is " + type);
    return refused(rejection_reason::weak_key,
                   who + " is " + type + ", below the minimum of " + std::to_string(minimum) + " bits for " + family,
                   code);
  };
  // The base id is a field of the key, cheaper than EVP_PKEY_is_a's name
  // lookups; this runs for every certificate of every full handshake.
  static const std::string accepted = "accepted: RSA >= " + std::to_string(min_rsa_bits) + " bits, EC >= " +
                                      std::to_string(min_ec_bits) + " bits, Ed25519, Ed448";
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: return at_least("RSA " + size, min_rsa_bits, "RSA");
    case EVP_PKEY_RSA_PSS: return at_least("RSA-PSS " + size, min_rsa_bits, "RSA");
    case EVP_PKEY_EC: return at_least("EC " + ec_curve(key) + " (" + size + ")", min_ec_bits, "EC");
    case EVP_PKEY_ED25519: return passed(who + " is Ed25519");
    case EVP_PKEY_ED448: return passed(who + " is Ed448");
    case EVP_PKEY_DSA:
      return refused(rejection_reason::weak_key,
                     who + " is DSA " + size + ": DSA keys are refused (" + accepted + ")", code);
    default: {
      const char* type = EVP_PKEY_get0_type_name(key);
      const std::string what = (type != nullptr ? std::string(type) : std::string("of an unknown type")) + " " + size;
      return refused(rejection_reason::weak_key,
                     who + " is " + what + ": not an accepted key type (" + accepted + ")", code);
    }
  }
}

chain_check check_client_auth_eku(X509* leaf, bool require_eku) {
  if ((X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) == 0) {
    if (!require_eku) return passed("leaf has no extendedKeyUsage (accepted: require_client_auth_eku = false)");
    return refused(rejection_reason::bad_eku,
                   "leaf has no extendedKeyUsage extension, and clientAuth is required: issue client certificates "
                   "with extendedKeyUsage = clientAuth, or set require_client_auth_eku = false for this service to "
                   "accept certificates without the extension",
                   X509_V_ERR_INVALID_PURPOSE);
  }
  const std::uint32_t usage = X509_get_extended_key_usage(leaf);
  if (usage & XKU_SSL_CLIENT) return passed("leaf extendedKeyUsage includes clientAuth");
  return refused(rejection_reason::bad_eku,
                 "leaf extendedKeyUsage allows " + eku_names(usage) + " but not clientAuth",
                 X509_V_ERR_INVALID_PURPOSE);
}

chain_check check_name_constraints(STACK_OF(X509) * chain, int index) {
  const int length = chain != nullptr ? sk_X509_num(chain) : 0;
  if (index < 0 || index >= length) return passed("no such certificate in the chain");
  X509* cert = sk_X509_value(chain, index);
  // RFC 5280 6.1.4 (b)/(g): constraints bind names of the certificates they
  // govern, but a self-issued CA other than the target is exempt (key rollover).
  if (index != 0 && (X509_get_extension_flags(cert) & EXFLAG_SI) != 0) {
    return passed("self-issued CA certificate: exempt from name constraints");
  }
  int constraining = 0;
  for (int j = length - 1; j > index; --j) {
    X509* ca = sk_X509_value(chain, j);
    if (X509_get_ext_by_NID(ca, NID_name_constraints, -1) < 0) continue;
    name_constraints_ptr nc(
        static_cast<NAME_CONSTRAINTS*>(X509_get_ext_d2i(ca, NID_name_constraints, nullptr, nullptr)));
    if (!nc) {
      ERR_clear_error();
      return refused(rejection_reason::name_constraints,
                     "the nameConstraints of CA " + quoted(distinguished_name(X509_get_subject_name(ca))) +
                         " cannot be decoded",
                     X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX);
    }
    ++constraining;
    int rv = NAME_CONSTRAINTS_check(cert, nc.get());
    if (rv == X509_V_OK && index == 0 && !has_dns_san(cert)) rv = NAME_CONSTRAINTS_check_CN(cert, nc.get());
    if (rv == X509_V_OK) continue;
    const offender found = find_offender(cert, index == 0, nc.get());
    const int code = found.name.empty() ? rv : found.error;
    return refused(rejection_reason::name_constraints, violation_text(found, rv, ca, nc.get()), code);
  }
  if (constraining == 0) return passed("no CA above it has nameConstraints");
  return passed("every name is within the nameConstraints of " + std::to_string(constraining) + " CA(s) above it");
}

}  // namespace mtlsd::tls
