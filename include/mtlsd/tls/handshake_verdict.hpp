#pragma once
// What certificate verification concluded about one client. Owned by the
// session; OpenSSL's verify callback reaches it through the SSL's ex_data for
// the duration of the handshake only.

#include <optional>
#include <string>

#include "mtlsd/identity/identity.hpp"
#include "mtlsd/tls/ocsp_check.hpp"
#include "mtlsd/tls/rejection.hpp"

typedef struct ssl_st SSL;

namespace mtlsd::tls {

class server_context;
class sni_table;

struct handshake_verdict {
  const server_context* context = nullptr;
  bool refused = false;  // the first refusal wins; later callbacks do not overwrite it
  rejection_reason reason = rejection_reason::other;
  std::string detail;    // human readable, names the certificate
  std::optional<client_identity> identity;  // the leaf's, once extracted
  // Several services on one socket: the ClientHello's server name selects the
  // context (and replaces `context`); null when the socket serves one.
  const sni_table* routes = nullptr;
  std::string server_name;  // as the client sent it; empty without SNI
  // An OCSP question the verify callback is waiting on (ocsp_check.hpp).
  std::unique_ptr<ocsp_exchange> ocsp;

  void refuse(rejection_reason r, std::string why) {
    if (refused) return;
    refused = true;
    reason = r;
    detail = std::move(why);
  }
};

// Links `verdict` to `ssl` so the verify callback can fill it in.
void attach(SSL* ssl, handshake_verdict* verdict);

// After a failed SSL_accept: sets reason/detail from the verdict the callback
// left, or else from OpenSSL's error queue (which this drains).
void explain_failure(SSL* ssl, handshake_verdict& verdict);

}  // namespace mtlsd::tls
