#pragma once
// Owner: tls module. Holders for passwords and decrypted private-key bytes:
// the memory is wiped (OPENSSL_cleanse) when the holder is released, and the
// holder is move-only, so no copy is left behind in freed memory. Sizes are
// fixed at creation (shrink_to only shortens) for the same reason: a
// growing buffer would leave earlier copies in memory it released.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace mtlsd::tls {

class secret_bytes {
 public:
  secret_bytes() = default;
  explicit secret_bytes(std::size_t size) : bytes_(size) {}
  secret_bytes(const std::uint8_t* data, std::size_t size) : bytes_(data, data + size) {}
  ~secret_bytes() { wipe(); }
  secret_bytes(secret_bytes&& other) noexcept = default;
  secret_bytes& operator=(secret_bytes&& other) noexcept;
  secret_bytes(const secret_bytes&) = delete;
  secret_bytes& operator=(const secret_bytes&) = delete;

  std::uint8_t* data() { return bytes_.data(); }
  const std::uint8_t* data() const { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  std::span<const std::uint8_t> bytes() const { return bytes_; }
  // The bytes as text (a password read from a file or the environment).
  std::string_view text() const { return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()}; }

  // Wipes and drops everything from `size` on.
  void shrink_to(std::size_t size);
  void wipe();

 private:
  std::vector<std::uint8_t> bytes_;
};

}  // namespace mtlsd::tls
