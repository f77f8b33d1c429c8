#pragma once
// Judging an established connection again under another service context —
// the one a reload just built for the same service — as if its client
// connected now: the client's chain verified against the new truststore and
// CRLs (with the new verify_depth), the leaf against the new whitelist.
// A proxy worker makes one judge per reload and asks it about each of its
// live connections, on its own thread; verdicts are remembered per chain, so
// a thousand connections of one client cost one verification.

#include <string>
#include <unordered_map>

#include <openssl/ssl.h>

#include "mtlsd/tls/rejection.hpp"
#include "mtlsd/tls/server_context.hpp"

namespace mtlsd::tls {

struct live_verdict {
  bool admitted = true;
  rejection_reason reason = rejection_reason::other;
  std::string detail;  // names the certificate, as handshake_failed does
};

class live_judge {
 public:
  // `next` must outlive the judge.
  explicit live_judge(const server_context& next) : next_(next) {}

  // A connection without a client certificate (verify_client want or none)
  // is always admitted: there is nothing to judge.
  live_verdict judge(SSL* ssl);

 private:
  live_verdict judge_chain(X509* leaf, STACK_OF(X509)* sent, bool leaf_only_session);
  live_verdict judge_leaf(X509* leaf);
  live_verdict judge_whitelist(X509* leaf);

  const server_context& next_;
  std::unordered_map<std::string, live_verdict> seen_;  // by the digest of the chain (and how it was kept)
};

}  // namespace mtlsd::tls
