// SNI routing inside the handshake. The ClientHello callback is the one point
// where OpenSSL has parsed the client's first flight but decided nothing yet:
// no version, no session to resume, no certificate request. Switching the
// SSL to the selected service's context there makes everything after it —
// the certificate served, the CertificateRequest's CA list, the trust store,
// the verify mode, and the session ID context that resumption is checked
// against — that service's.

#include <openssl/ssl.h>
#include <openssl/tls1.h>

#include "mtlsd/tls/handshake_verdict.hpp"
#include "mtlsd/tls/server_context.hpp"
#include "mtlsd/tls/sni_table.hpp"
#include "tls/verify_callback.hpp"

namespace mtlsd::tls {
namespace {

// The host_name entry of a server_name extension (RFC 6066 section 3), or
// false when the extension is malformed.
bool parse_server_name(const unsigned char* data, std::size_t length, std::string& name) {
  if (length < 2) return false;
  const std::size_t list_length = (std::size_t{data[0]} << 8) | data[1];
  if (list_length != length - 2) return false;
  for (std::size_t at = 2; at + 3 <= length;) {
    const unsigned type = data[at];
    const std::size_t entry = (std::size_t{data[at + 1]} << 8) | data[at + 2];
    at += 3;
    if (entry > length - at) return false;
    if (type == TLSEXT_NAMETYPE_host_name) {
      name.assign(reinterpret_cast<const char*>(data + at), entry);
      // A NUL inside the name could make two spellings compare differently.
      return !name.empty() && name.find('\0') == std::string::npos && name.size() <= 255;
    }
    at += entry;
  }
  return true;  // no host_name entry: as if no SNI
}

}  // namespace

int select_by_server_name(SSL* ssl, int* alert, void*) {
  handshake_verdict* verdict = verdict_of(ssl);
  if (!verdict || !verdict->routes) return SSL_CLIENT_HELLO_SUCCESS;
  const unsigned char* data = nullptr;
  std::size_t length = 0;
  verdict->server_name.clear();
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &data, &length) == 1 &&
      !parse_server_name(data, length, verdict->server_name)) {
    verdict->refuse(rejection_reason::other, "malformed server_name extension in the ClientHello");
    *alert = SSL_AD_DECODE_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  const server_context* selected = verdict->routes->select(verdict->server_name);
  if (!selected) {
    verdict->refuse(rejection_reason::unrecognized_name,
                    (verdict->server_name.empty() ? std::string("client sent no server name (SNI)")
                                                  : "client asked for server name \"" + verdict->server_name + "\"") +
                        "; this address serves " + verdict->routes->served_names() + " and has no default service");
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_CLIENT_HELLO_ERROR;
  }
  if (selected != verdict->context) {
    if (!selected->take_over(ssl)) {
      verdict->refuse(rejection_reason::other, "cannot switch to the service for server name \"" +
                                                   verdict->server_name + "\"");
      *alert = SSL_AD_INTERNAL_ERROR;
      return SSL_CLIENT_HELLO_ERROR;
    }
    verdict->context = selected;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

}  // namespace mtlsd::tls
