#pragma once
// Which sessions a service may resume: only its own, and only while the
// rules that admitted the client still hold.

#include <openssl/ssl.h>

#include "mtlsd/config/config.hpp"

namespace mtlsd::tls {

// Sets the session id context to a digest of the service's name and its
// client policy (verify_client, verify_depth, the truststore's CAs, the
// whitelist, require_client_auth_eku). A session carries the context it was made under, and OpenSSL
// resumes it only under the same one: a session from another service, or
// one made before the truststore or whitelist changed (a restart, a reload,
// or another instance sharing session_ticket_key_file but not the policy),
// falls back to a full handshake, so every admitted client was admitted by
// the rules in force now. The CRLs count as policy too. Call once the
// truststore and the CRLs are loaded.
void bind_sessions_to_policy(SSL_CTX* ctx, const service_config& service);

}  // namespace mtlsd::tls
