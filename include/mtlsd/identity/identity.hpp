#pragma once
// The identity a client certificate claims, extracted once per handshake and
// then handled as plain values (policy.hpp decides admission without OpenSSL).

#include <cstdint>
#include <string>
#include <vector>

typedef struct x509_st X509;
typedef struct X509_name_st X509_NAME;

namespace mtlsd {

struct client_identity {
  std::string subject;  // RFC 2253 one-line form, for logs
  std::string issuer;   // RFC 2253 one-line form, for logs
  std::string serial;   // uppercase hex
  // Values exactly as encoded in the certificate, converted to UTF-8. They may
  // contain embedded NUL bytes; the matcher refuses such values.
  std::vector<std::string> cn, ou, o;
  std::vector<std::string> dns, uri, email;
  std::vector<std::string> ip;  // inet_ntop form; "invalid:<hex>" for malformed octets
  std::string sha256;           // 64 lowercase hex digits of the DER certificate
  std::int64_t not_before = 0;  // unix seconds
  std::int64_t not_after = 0;   // unix seconds
  // basicConstraints and keyUsage as the certificate states them; the
  // X.509-SVID rules (policy.hpp) judge a leaf by these.
  bool is_ca = false;           // basicConstraints cA = TRUE
  bool has_key_usage = false;   // the keyUsage extension is present
  std::uint16_t key_usage = 0;  // key_usage_bit flags; 0 when absent
};

// keyUsage bits (RFC 5280 4.2.1.3) as flags of client_identity::key_usage:
// bit n of the extension is (1 << n) here.
namespace key_usage_bit {
inline constexpr std::uint16_t digital_signature = 1u << 0;
inline constexpr std::uint16_t non_repudiation = 1u << 1;
inline constexpr std::uint16_t key_encipherment = 1u << 2;
inline constexpr std::uint16_t data_encipherment = 1u << 3;
inline constexpr std::uint16_t key_agreement = 1u << 4;
inline constexpr std::uint16_t key_cert_sign = 1u << 5;
inline constexpr std::uint16_t crl_sign = 1u << 6;
inline constexpr std::uint16_t encipher_only = 1u << 7;
inline constexpr std::uint16_t decipher_only = 1u << 8;
}  // namespace key_usage_bit

// "digitalSignature,keyCertSign" (RFC 5280 names, in bit order); "none" for 0.
std::string key_usage_names(std::uint16_t key_usage);

// Never fails on a parsed certificate. A subject attribute that cannot be
// converted to UTF-8 is kept as "\0undecodable:<hex>" (so it still counts,
// e.g. towards "exactly one CN", yet can never match); a SAN that cannot be
// decoded is left out.
client_identity extract_identity(X509* cert);

// RFC 2253 one-line form in UTF-8, with controls, deceptive characters and
// invalid bytes escaped: how every log line and summary names a certificate.
std::string distinguished_name(const X509_NAME* name);

// "AB:CD:..." — the form `openssl x509 -fingerprint -sha256` prints.
std::string colon_hex(const std::string& lowercase_hex);

}  // namespace mtlsd
