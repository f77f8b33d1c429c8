// The verified-chain cache: a returning chain skips verification only while
// it is the same chain, under the same context and epoch, within validity.

#include "mtlsd/tls/verified_chain_cache.hpp"

#include <openssl/x509v3.h>

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <memory>

#include "pki.hpp"
#include "tls_test_support.hpp"

namespace mtlsd::tls {
namespace {

using namespace std::chrono_literals;
using test::issued;

struct store_deleter { void operator()(X509_STORE* p) const { X509_STORE_free(p); } };
struct md_deleter { void operator()(EVP_MD* p) const { EVP_MD_free(p); } };

// Counts how often OpenSSL actually walked the chain (the callback runs per
// certificate during verification, never on a cache hit).
int callback_calls = 0;
int counting_callback(int ok, X509_STORE_CTX*) {
  ++callback_calls;
  return ok;
}

class verified_chain_cache : public ::testing::Test {
 protected:
  void SetUp() override {
    forget_verified_chains();
    callback_calls = 0;
    ca = test::make_self_signed(test::ca_spec("client CA"));
    alice = test::issue(test::leaf_spec("alice"), ca);
    bob = test::issue(test::leaf_spec("bob"), ca);
    store.reset(X509_STORE_new());
    X509_STORE_add_cert(store.get(), ca.cert.get());
    X509_STORE_set_verify_cb(store.get(), counting_callback);
    sha256.reset(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  }

  // One verification of `leaf` as a TLS server would run it, at time `now`.
  int verify(const issued& leaf, chain_cache_scope scope, std::int64_t now = std::time(nullptr)) {
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    STACK_OF(X509)* sent = sk_X509_new_null();
    sk_X509_push(sent, leaf.cert.get());
    X509_STORE_CTX_init(ctx, store.get(), leaf.cert.get(), sent);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), static_cast<time_t>(now));
    const int result = verify_chain_cached(ctx, scope, sha256.get(), now);
    X509_STORE_CTX_free(ctx);
    sk_X509_free(sent);
    return result;
  }

  issued ca, alice, bob;
  std::unique_ptr<X509_STORE, store_deleter> store;
  std::unique_ptr<EVP_MD, md_deleter> sha256;
};

TEST_F(verified_chain_cache, a_returning_chain_skips_verification) {
  const chain_cache_scope scope{1, 1};
  ASSERT_EQ(verify(alice, scope), 1);
  const int first_walk = callback_calls;
  ASSERT_GT(first_walk, 0);
  EXPECT_EQ(verify(alice, scope), 1);
  EXPECT_EQ(callback_calls, first_walk) << "the second handshake verified the chain again";
  EXPECT_EQ(verified_chains_cached(), 1u);
}

TEST_F(verified_chain_cache, another_certificate_is_verified_on_its_own) {
  const chain_cache_scope scope{1, 1};
  ASSERT_EQ(verify(alice, scope), 1);
  const int after_alice = callback_calls;
  EXPECT_EQ(verify(bob, scope), 1);
  EXPECT_GT(callback_calls, after_alice);
}

TEST_F(verified_chain_cache, another_context_verifies_afresh) {
  ASSERT_EQ(verify(alice, {1, 1}), 1);
  const int after_first = callback_calls;
  EXPECT_EQ(verify(alice, {2, 1}), 1);
  EXPECT_GT(callback_calls, after_first) << "a different service (context) reused another's verdict";
}

TEST_F(verified_chain_cache, refusals_are_never_remembered) {
  const issued stranger_ca = test::make_self_signed(test::ca_spec("other CA"));
  const issued stranger = test::issue(test::leaf_spec("mallory"), stranger_ca);
  EXPECT_EQ(verify(stranger, {1, 1}), 0);
  const int after_first = callback_calls;
  EXPECT_EQ(verify(stranger, {1, 1}), 0);
  EXPECT_GT(callback_calls, after_first);
  EXPECT_EQ(verified_chains_cached(), 0u);
}

TEST_F(verified_chain_cache, an_entry_ends_when_the_chain_expires) {
  const std::int64_t now = std::time(nullptr);
  ASSERT_EQ(verify(alice, {1, 1}, now), 1);
  // The leaf is valid for 24 h; a day and a bit later the cached verdict must
  // not be used: verification runs again and fails on expiry.
  const std::int64_t later = now + 25 * 3600;
  const int before = callback_calls;
  EXPECT_EQ(verify(alice, {1, 1}, later), 0);
  EXPECT_GT(callback_calls, before);
}

TEST_F(verified_chain_cache, a_newer_epoch_empties_the_cache_and_an_older_one_bypasses_it) {
  ASSERT_EQ(verify(alice, {1, 1}), 1);
  ASSERT_EQ(verify(bob, {1, 1}), 1);
  EXPECT_EQ(verified_chains_cached(), 2u);
  ASSERT_EQ(verify(alice, {7, 2}), 1);  // first handshake after a reload
  EXPECT_EQ(verified_chains_cached(), 1u) << "entries from before the reload survived it";
  const int before = callback_calls;
  EXPECT_EQ(verify(bob, {1, 1}), 1);  // a connection still on the old configuration
  EXPECT_GT(callback_calls, before);
  EXPECT_EQ(verified_chains_cached(), 1u) << "an old-epoch verdict was stored";
}

TEST_F(verified_chain_cache, an_entry_ends_at_the_scopes_valid_until) {
  // valid_until is the earliest CRL nextUpdate: past it, a revocation check
  // could fail (crl_stale) although the chain itself is still valid.
  const std::int64_t now = std::time(nullptr);
  const chain_cache_scope scope{1, 1, now + 600};
  ASSERT_EQ(verify(alice, scope, now), 1);
  int before = callback_calls;
  EXPECT_EQ(verify(alice, scope, now + 599), 1);
  EXPECT_EQ(callback_calls, before) << "still before valid_until: the cached verdict applies";
  before = callback_calls;
  EXPECT_EQ(verify(alice, scope, now + 600), 1);
  EXPECT_GT(callback_calls, before) << "a verdict was used past the scope's valid_until";
}

TEST_F(verified_chain_cache, stays_within_its_capacity) {
  for (std::size_t i = 0; i < verified_chain_cache_capacity + 10; ++i)
    ASSERT_EQ(verify(alice, {i + 1, 1}), 1);
  EXPECT_EQ(verified_chains_cached(), verified_chain_cache_capacity);
}

}  // namespace
}  // namespace mtlsd::tls
