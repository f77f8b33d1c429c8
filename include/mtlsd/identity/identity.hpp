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
};

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
