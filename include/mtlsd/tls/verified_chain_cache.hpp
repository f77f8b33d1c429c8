#pragma once
// Remembers, per worker thread, the client chains that verified (chain to the
// truststore, pass depth, purpose and whitelist), so a returning client skips
// path building and the chain's signature checks. Only the chain is
// remembered: the client's CertificateVerify signature, which proves it holds
// the key, is checked by TLS on every handshake regardless.
//
// An entry is keyed by the verifying context and the SHA-256 of every
// certificate the client sent, in order; it never outlives the earliest
// not_after in the verified chain nor the scope's valid_until (the earliest
// CRL nextUpdate), and only successes are stored, so every refusal is judged
// (and explained) afresh. Entries made under an older
// configuration epoch are dropped as soon as a newer epoch is seen, which is
// how a reload (or a revocation change) empties the cache. Thread-local: no
// lock and nothing shared between workers.

#include <cstddef>
#include <cstdint>

#include <openssl/evp.h>
#include <openssl/x509.h>

namespace mtlsd::tls {

struct chain_cache_scope {
  std::uint64_t context_id = 0;  // unique per built server_context
  std::uint64_t epoch = 0;       // configuration generation the context belongs to
  // Nothing verified under the context is remembered past this unix time:
  // the earliest nextUpdate of its CRLs, after which a verdict could change
  // (crl_stale) even though no reload happened.
  std::int64_t valid_until = INT64_MAX;
};

// Entries kept per worker; beyond this the oldest go first.
inline constexpr std::size_t verified_chain_cache_capacity = 4096;

// The configuration generation. A context records the epoch it was built in;
// whatever changes what a chain's verdict would be (a reload, a revocation
// list change) advances it before building new contexts.
std::uint64_t configuration_epoch();
void advance_configuration_epoch();

// Drop-in for X509_verify_cert(ctx) (same return convention). `sha256` is a
// pre-fetched digest; `now` is the current unix time.
int verify_chain_cached(X509_STORE_CTX* ctx, const chain_cache_scope& scope, const EVP_MD* sha256,
                        std::int64_t now);

// This thread's cache, for tests and diagnostics (forgetting also forgets the epoch).
std::size_t verified_chains_cached();
void forget_verified_chains();

}  // namespace mtlsd::tls
