#pragma once
// `mtlsd verify`'s engine (tls module): judges a client's certificate chain
// offline with a service's own server_context, through the same OpenSSL
// verification, verify callback and handshake_verdict the daemon's
// handshakes use (minus the per-worker verified-chain cache), so the verdict
// and its reason/detail are the daemon's. Alongside, it explains every check
// one line at a time; those lines never decide anything.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <openssl/x509.h>

#include "mtlsd/tls/rejection.hpp"
#include "mtlsd/tls/server_context.hpp"

namespace mtlsd::tls {

enum class check_status { ok, fail, warn, info };
std::string_view to_string(check_status);  // "ok", "FAIL", "warn", "info"

struct explained_check {
  check_status status = check_status::ok;
  std::string name;  // "path", "validity", "signature", "key", "eku", "name_constraints", "revocation", ...
  std::string text;
};

struct offline_verdict {
  bool accepted = false;
  rejection_reason reason = rejection_reason::other;  // when refused
  std::string detail;   // refused: the handshake_failed detail; accepted: the allow rule that matched
  std::vector<explained_check> checks;
};

// `chain`: the client's certificate first, then what it would send after it.
// `at`: unix seconds to verify at (validity, CRLs); nullopt: now.
offline_verdict verify_offline(const server_context& context, const std::vector<X509*>& chain,
                               std::optional<std::int64_t> at);

}  // namespace mtlsd::tls
