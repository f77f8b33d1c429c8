#pragma once
// Hand-made TLS bytes for the abuse tests: ClientHellos OpenSSL refuses to
// send (SSLv3, TLS 1.0 without a security-level override), records with
// impossible lengths, and a reader for the alert a server answers with.
// Owned by the abuse/fault-test helper.
//
// Wire formats: RFC 8446 section 5.1 (records) and 4.1.2 (ClientHello); RFC 6101
// for SSLv3, whose records and ClientHello have the same shape.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mtlsd::test {

struct hello_spec {
  std::uint16_t record_version = 0x0301;  // legacy_record_version
  std::uint16_t client_version = 0x0303;  // legacy_version
  std::vector<std::uint16_t> cipher_suites = {0xc02f, 0xc02b};
  // (type, extension_data), in order; empty: no extensions block at all (SSLv3 style).
  std::vector<std::pair<std::uint16_t, std::string>> extensions;
};

// The ClientHello handshake message (type, 24-bit length, body).
std::string client_hello_message(const hello_spec& spec);
// `payload` cut into records of `content_type` of at most `max_fragment` bytes.
std::string tls_records(std::uint8_t content_type, std::uint16_t version, std::string_view payload,
                        std::size_t max_fragment = 16384);
// One record header announcing `length` bytes (nothing of the body).
std::string record_header(std::uint8_t content_type, std::uint16_t version, std::uint16_t length);

// Extension bodies for a plausible pre-1.3 hello: supported_groups (x25519,
// P-256), ec_point_formats (uncompressed), signature_algorithms.
std::vector<std::pair<std::uint16_t, std::string>> legacy_extensions();

// The first alert record in `bytes` (a server's plaintext reply), as its
// description code; nullopt when the reply holds no alert record.
std::optional<int> first_alert(std::string_view bytes);

// Reads everything the peer sends until it closes (EOF or reset) or `timeout`
// passes. `closed` tells which; `elapsed` how long it took.
struct raw_reply {
  std::string bytes;
  bool closed = false;
  std::chrono::milliseconds elapsed{0};
};
raw_reply read_until_closed(int fd, std::chrono::milliseconds timeout);

// send() of all of `data`, MSG_NOSIGNAL; false when the peer is gone.
bool send_all(int fd, std::string_view data);

// Closes `fd` with SO_LINGER 0: the kernel sends RST instead of FIN.
void reset_connection(int fd);

}  // namespace mtlsd::test
