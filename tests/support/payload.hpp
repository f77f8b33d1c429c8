#pragma once
// Test payloads: deterministic pseudo-random byte streams of any size, and an
// incremental SHA-256, so multi-megabyte transfers are checked end to end
// without keeping them in memory. Owned by the test-harness helper.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace mtlsd::test {

class sha256_hasher {
 public:
  sha256_hasher();
  void update(std::string_view data);
  void update(const void* data, std::size_t size);
  std::string hex();  // lowercase; finalises (further updates are ignored)

 private:
  struct ctx_deleter {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, ctx_deleter> ctx_;
  std::string result_;
};

std::string sha256_hex(std::string_view data);

// `size` bytes from a xorshift generator seeded with `seed`; two sources with
// the same seed produce the same bytes, different seeds differ.
class payload_source {
 public:
  payload_source(std::uint64_t size, std::uint64_t seed);
  std::uint64_t size() const { return size_; }
  std::uint64_t remaining() const { return size_ - produced_; }
  // Fills up to `max` bytes into `out`; returns how many (0 at the end).
  std::size_t next(char* out, std::size_t max);
  // SHA-256 of the whole stream (computed on a fresh copy).
  std::string expected_sha256() const;
  static std::string make(std::uint64_t size, std::uint64_t seed);  // whole stream as a string

 private:
  std::uint64_t size_;
  std::uint64_t seed_;
  std::uint64_t produced_ = 0;
  std::uint64_t state_;
  std::uint64_t word_ = 0;
  int word_left_ = 0;
};

}  // namespace mtlsd::test
