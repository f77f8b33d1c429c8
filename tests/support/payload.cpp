#include "payload.hpp"

#include <cstring>
#include <vector>

namespace mtlsd::test {

sha256_hasher::sha256_hasher() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }

void sha256_hasher::update(const void* data, std::size_t size) {
  if (result_.empty()) EVP_DigestUpdate(ctx_.get(), data, size);
}

void sha256_hasher::update(std::string_view data) { update(data.data(), data.size()); }

std::string sha256_hasher::hex() {
  if (result_.empty()) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &len);
    static constexpr char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < len; ++i) {
      result_ += digits[digest[i] >> 4];
      result_ += digits[digest[i] & 0xf];
    }
  }
  return result_;
}

std::string sha256_hex(std::string_view data) {
  sha256_hasher h;
  h.update(data);
  return h.hex();
}

payload_source::payload_source(std::uint64_t size, std::uint64_t seed)
    : size_(size), seed_(seed), state_(seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL) {
  if (state_ == 0) state_ = 1;
}

std::size_t payload_source::next(char* out, std::size_t max) {
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(max, remaining()));
  for (std::size_t i = 0; i < n; ++i) {
    if (word_left_ == 0) {
      // xorshift64*: fast, and the stream does not depend on chunk sizes.
      state_ ^= state_ >> 12;
      state_ ^= state_ << 25;
      state_ ^= state_ >> 27;
      word_ = state_ * 0x2545f4914f6cdd1dULL;
      word_left_ = 8;
    }
    out[i] = static_cast<char>(word_ & 0xff);
    word_ >>= 8;
    --word_left_;
  }
  produced_ += n;
  return n;
}

std::string payload_source::expected_sha256() const {
  payload_source copy(size_, seed_);
  sha256_hasher h;
  std::vector<char> buffer(1 << 16);
  for (std::size_t n = copy.next(buffer.data(), buffer.size()); n > 0; n = copy.next(buffer.data(), buffer.size())) {
    h.update(buffer.data(), n);
  }
  return h.hex();
}

std::string payload_source::make(std::uint64_t size, std::uint64_t seed) {
  payload_source src(size, seed);
  std::string out(static_cast<std::size_t>(size), '\0');
  src.next(out.data(), out.size());
  return out;
}

}  // namespace mtlsd::test
