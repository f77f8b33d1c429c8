#pragma once
// What mtlsd demands of a client's certificate chain on top of OpenSSL's path
// validation: key strength of every certificate, the clientAuth extended key
// usage on the leaf, and name constraints explained by CA and name. Owned by
// the tls module. Each check is a function of one certificate (and the chain
// above it) with no side effects, so the verify callback (verify.cpp), which
// refuses on the first failure, and tools that report every check one line
// at a time judge a chain the same way.

#include <string>
#include <string_view>

#include <openssl/x509.h>

#include "mtlsd/tls/rejection.hpp"

namespace mtlsd::tls {

// Where a certificate sits in a verified chain (leaf first, anchor last).
enum class chain_role { leaf, intermediate, anchor };
std::string_view to_string(chain_role);  // "leaf", "intermediate CA", "trust anchor"
// A one-certificate chain is a leaf (a self-signed client certificate).
chain_role role_at(int index, int chain_length);

struct chain_check {
  bool passed = true;
  rejection_reason reason = rejection_reason::other;  // meaningful when !passed
  // Refused: what was found and what is required. Passed: what was checked,
  // e.g. "leaf key is EC P-256 (256 bits)".
  std::string detail;
  // Refused: the X509_V_ERR_* code that stands for the refusal in OpenSSL
  // (it also chooses the alert the client receives).
  int verify_error = 0;
};

// Key sizes below which a key is refused: RSA 2048 bits (NIST SP 800-57
// 112-bit security), EC 256 bits. OpenSSL's security level 2 alone would let
// P-224 and DSA-2048 through.
inline constexpr int min_rsa_bits = 2048;
inline constexpr int min_ec_bits = 256;

// weak_key: RSA (and RSA-PSS) below min_rsa_bits, EC below min_ec_bits, DSA
// of any size, and any key type not named here. Ed25519 and Ed448 pass.
chain_check check_key_strength(X509* cert, chain_role role);

// bad_eku: an extendedKeyUsage without clientAuth; with `require_eku`, also
// a leaf without the extension (require_client_auth_eku = false admits that).
chain_check check_client_auth_eku(X509* leaf, bool require_eku);

// name_constraints: chain[index] against the nameConstraints of every CA
// above it, as X509_verify_cert applies them (self-issued CAs below the top
// are exempt; a leaf without a DNS SAN has its CN checked as a DNS name).
// The detail names the constraining CA, the offending name and the subtrees.
// Costs nothing when no CA above has the extension.
chain_check check_name_constraints(STACK_OF(X509)* chain, int index);

}  // namespace mtlsd::tls
