// A fuzzed client byte stream against mtlsd's real server-side TLS set-up
// (handshake_fixture.hpp: two services built by tls::server_context from a
// loaded configuration, one selected by SNI), over an in-memory BIO pair.
//
// Input: one control byte, then the bytes the client sends. The control
// byte's low 7 bits say how they arrive: 0 in one write, n > 0 in writes of
// n bytes, each followed by as much handshake (then SSL_read) as the server
// can do; then the client's end of stream. With its high bit set, two
// connections follow one another, the second able to resume the first's
// session (under the same service or, by SNI, the other): two bytes give the
// length of the first connection's stream (big-endian), the rest is the
// second's.
//
// The server's randomness restarts from the same fixed stream for every
// input, so an input behaves the same every time it is run, and a flight
// recorded by fuzz/make-seeds (certificate, Finished and application data
// included) replays in full.
//
// Properties, beyond "no crash, no undefined behaviour":
//   - a handshake that completes was not refused by the verify callback, ran
//     under the service the routes pick for its server name, and (resumed or
//     not) carries a client certificate the service's whitelist admits
//     whenever the service requires one, or presents one;
//   - a handshake that fails says why, with a rejection reason of the
//     vocabulary.
#include <cstdint>
#include <cstdlib>
#include <span>

#include <openssl/ssl.h>

#include "handshake_fixture.hpp"
#include "mtlsd/identity/identity.hpp"
#include "mtlsd/identity/policy.hpp"
#include "mtlsd/tls/rejection.hpp"

namespace {

using namespace mtlsd;

void require(bool condition) {
  if (!condition) std::abort();
}

void check_outcome(const fuzz::handshake_fixture& fixture, const fuzz::server_connection& connection) {
  const tls::handshake_verdict& verdict = connection.verdict();
  if (!connection.handshake_done()) {
    if (connection.failed()) {
      require(verdict.refused && !verdict.detail.empty());
      require(static_cast<std::size_t>(verdict.reason) < rejection_reason_count);
    }
    return;
  }
  require(!verdict.refused);
  const tls::server_context* service = verdict.context;
  require(service != nullptr);
  require(fixture.routes.select(verdict.server_name) == service);
  require(SSL_get_SSL_CTX(connection.native()) == service->native());
  X509* peer = SSL_get0_peer_certificate(connection.native());
  if (service->verify_mode() == verify_client_mode::require) require(peer != nullptr);
  if (peer != nullptr) require(admit(extract_identity(peer), service->policy()).allowed);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fuzz::handshake_fixture::get();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::handshake_fixture& fixture = fuzz::handshake_fixture::get();
  fuzz::run_input(std::span<const std::uint8_t>(data, size),
                  [&](const fuzz::server_connection& connection) { check_outcome(fixture, connection); });
  return 0;
}
