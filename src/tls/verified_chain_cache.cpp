#include "mtlsd/tls/verified_chain_cache.hpp"

#include <openssl/asn1.h>

#include <algorithm>
#include <atomic>
#include <array>
#include <cstring>
#include <ctime>
#include <deque>
#include <limits>
#include <unordered_map>

namespace mtlsd::tls {
namespace {

struct chain_key {
  std::uint64_t context_id = 0;
  std::array<unsigned char, 32> digest{};
  bool operator==(const chain_key&) const = default;
};

struct chain_key_hash {
  std::size_t operator()(const chain_key& key) const noexcept {
    // The digest is already uniformly distributed; its first bytes are a hash.
    std::size_t h = 0;
    std::memcpy(&h, key.digest.data(), sizeof h);
    return h ^ static_cast<std::size_t>(key.context_id * 0x9E3779B97F4A7C15ull);
  }
};

class chain_cache {
 public:
  bool admits(const chain_key& key, std::int64_t now) const {
    const auto it = valid_until_.find(key);
    return it != valid_until_.end() && now < it->second;
  }

  void remember(const chain_key& key, std::int64_t valid_until) {
    if (valid_until_.size() >= verified_chain_cache_capacity && !order_.empty()) {
      valid_until_.erase(order_.front());
      order_.pop_front();
    }
    if (valid_until_.insert_or_assign(key, valid_until).second) order_.push_back(key);
  }

  // Entries of an older epoch are unreachable from now on; drop them all.
  bool enter_epoch(std::uint64_t epoch) {
    if (epoch < epoch_) return false;  // a context from before a reload: no caching for it
    if (epoch > epoch_) {
      clear();
      epoch_ = epoch;
    }
    return true;
  }

  void reset() {
    clear();
    epoch_ = 0;
  }

  std::size_t size() const { return valid_until_.size(); }
  void clear() {
    valid_until_.clear();
    order_.clear();
  }

 private:
  std::uint64_t epoch_ = 0;
  std::unordered_map<chain_key, std::int64_t, chain_key_hash> valid_until_;
  std::deque<chain_key> order_;  // insertion order, for eviction
};

chain_cache& this_thread_cache() {
  thread_local chain_cache cache;
  return cache;
}

bool digest_presented_chain(X509_STORE_CTX* ctx, const EVP_MD* sha256, chain_key& key) {
  // OpenSSL hands us the leaf plus everything the client sent (leaf first).
  STACK_OF(X509)* sent = X509_STORE_CTX_get0_untrusted(ctx);
  X509* leaf = X509_STORE_CTX_get0_cert(ctx);
  if (!leaf) return false;
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  if (!md) return false;
  bool ok = EVP_DigestInit_ex(md, sha256, nullptr) == 1;
  auto add = [&](X509* cert) {
    unsigned char one[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    ok = ok && X509_digest(cert, sha256, one, &length) == 1 && EVP_DigestUpdate(md, one, length) == 1;
  };
  add(leaf);
  const int count = sent ? sk_X509_num(sent) : 0;
  for (int i = 0; i < count; ++i) {
    X509* cert = sk_X509_value(sent, i);
    if (cert != leaf) add(cert);
  }
  unsigned int length = 0;
  ok = ok && EVP_DigestFinal_ex(md, key.digest.data(), &length) == 1 && length == key.digest.size();
  EVP_MD_CTX_free(md);
  return ok;
}

// The first moment any certificate of the verified chain (anchor included)
// stops being valid.
std::int64_t earliest_not_after(X509_STORE_CTX* ctx) {
  std::int64_t earliest = std::numeric_limits<std::int64_t>::max();
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx);
  const int count = chain ? sk_X509_num(chain) : 0;
  if (count == 0) return std::numeric_limits<std::int64_t>::min();
  for (int i = 0; i < count; ++i) {
    struct tm t {};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(sk_X509_value(chain, i)), &t) != 1)
      return std::numeric_limits<std::int64_t>::min();
    earliest = std::min<std::int64_t>(earliest, timegm(&t));
  }
  return earliest;
}

std::atomic<std::uint64_t> current_epoch{0};

}  // namespace

std::uint64_t configuration_epoch() { return current_epoch.load(std::memory_order_acquire); }

void advance_configuration_epoch() { current_epoch.fetch_add(1, std::memory_order_acq_rel); }

int verify_chain_cached(X509_STORE_CTX* ctx, const chain_cache_scope& scope, const EVP_MD* sha256,
                        std::int64_t now) {
  auto& cache = this_thread_cache();
  chain_key key{scope.context_id, {}};
  const bool cacheable = sha256 && cache.enter_epoch(scope.epoch) && digest_presented_chain(ctx, sha256, key);
  if (cacheable && cache.admits(key, now)) {
    X509_STORE_CTX_set_error(ctx, X509_V_OK);
    return 1;
  }
  const int verified = X509_verify_cert(ctx);
  // A callback may let a chain through despite an error; only clean passes count.
  if (verified == 1 && cacheable && X509_STORE_CTX_get_error(ctx) == X509_V_OK) {
    const std::int64_t until = std::min(earliest_not_after(ctx), scope.valid_until);
    if (until > now) cache.remember(key, until);
  }
  return verified;
}

std::size_t verified_chains_cached() { return this_thread_cache().size(); }

void forget_verified_chains() { this_thread_cache().reset(); }

}  // namespace mtlsd::tls
