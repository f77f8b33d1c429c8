#pragma once
// The PROXY protocol (HAProxy's "proxy-protocol.txt", versions 1 and 2) as
// pure functions over bytes: no sockets, no clock, no logging, so the parser
// can be fuzzed and unit-tested on its own. session.cpp owns the I/O (reading
// an incoming header, writing an outgoing one); proxy_protocol_tlvs.cpp
// builds the TLVs we send from a TLS connection.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

namespace mtlsd::proxy::pp {

// v1: "PROXY " ... "\r\n", CRLF included (spec section 2.1).
inline constexpr std::size_t v1_max_size = 107;
// v2: signature, ver/cmd, fam/proto, 16-bit length.
inline constexpr std::size_t v2_fixed_size = 16;
// The largest payload a v2 length field can carry.
inline constexpr std::size_t v2_max_payload = 0xFFFF;
// Bound we accept when receiving: addresses plus a reasonable TLV list. An
// L4 balancer's headers are far smaller; a bigger one is refused as too_large
// instead of making us buffer up to 64 KiB per connection.
inline constexpr std::size_t default_max_v2_payload = 4096;

enum class command : std::uint8_t { local, proxy };

// Type codes of the TLVs (v2). 0x01-0x30 as HAProxy defines them; 0xE0-0xEF
// is the range the spec reserves for custom use, ours are documented in
// docs/backends.md.
namespace tlv_type {
inline constexpr std::uint8_t alpn = 0x01;
inline constexpr std::uint8_t authority = 0x02;
inline constexpr std::uint8_t crc32c = 0x03;
inline constexpr std::uint8_t noop = 0x04;
inline constexpr std::uint8_t unique_id = 0x05;
inline constexpr std::uint8_t ssl = 0x20;
inline constexpr std::uint8_t ssl_version = 0x21;  // sub-TLVs of ssl
inline constexpr std::uint8_t ssl_cn = 0x22;
inline constexpr std::uint8_t ssl_cipher = 0x23;
inline constexpr std::uint8_t ssl_sig_alg = 0x24;
inline constexpr std::uint8_t ssl_key_alg = 0x25;
inline constexpr std::uint8_t netns = 0x30;
inline constexpr std::uint8_t cert_sha256 = 0xE0;  // 64 lowercase hex digits
inline constexpr std::uint8_t spiffe_id = 0xE1;    // one per URI SAN, as in the certificate
inline constexpr std::uint8_t subject = 0xE2;      // RFC 2253 one-line form, UTF-8
inline constexpr std::uint8_t issuer = 0xE3;       // RFC 2253 one-line form, UTF-8
inline constexpr std::uint8_t serial = 0xE4;       // uppercase hex
inline constexpr std::uint8_t cert_der = 0xE5;     // the DER certificate
}  // namespace tlv_type

// The `client` flags of the ssl TLV.
namespace ssl_client {
inline constexpr std::uint8_t ssl = 0x01;
inline constexpr std::uint8_t cert_conn = 0x02;  // a certificate was presented on this connection
inline constexpr std::uint8_t cert_sess = 0x04;  // ... on this connection or the session it resumed
}  // namespace ssl_client

struct tlv {
  std::uint8_t type = 0;
  std::vector<std::uint8_t> value;
  friend bool operator==(const tlv&, const tlv&) = default;
};

struct address_pair {
  boost::asio::ip::tcp::endpoint source;
  boost::asio::ip::tcp::endpoint destination;
};

struct header {
  int version = 0;  // 1 or 2
  command cmd = command::proxy;
  // False for LOCAL, v1 UNKNOWN, and v2 families/transports other than TCP
  // over IPv4/IPv6: the receiver then keeps the connection's real addresses.
  std::optional<address_pair> addresses;
  std::vector<tlv> tlvs;  // v2 only, in wire order
  std::size_t size = 0;   // bytes the header takes on the wire
};

enum class parse_status { need_more, complete, invalid };
enum class parse_error { none, malformed, too_large };
std::string_view to_string(parse_error);

struct parse_result {
  parse_status status = parse_status::need_more;
  // need_more: the total number of bytes (from the first one) parse() needs
  // before it can say more. Never more than the header's own length, so a
  // reader that reads exactly up to `need` never takes bytes that follow it.
  std::size_t need = 0;
  header value;  // complete
  parse_error error = parse_error::none;
  std::string detail;  // invalid: human readable
};

// Detects v1 or v2 at the start of `bytes` and parses one header. Bytes after
// the header are ignored (value.size says where it ends).
parse_result parse(std::span<const std::uint8_t> bytes, std::size_t max_v2_payload = default_max_v2_payload);

// A TLV list filling `bytes` exactly (v2 payload after the addresses, or the
// sub-TLVs of an ssl TLV); nullopt when a TLV runs past the end.
std::optional<std::vector<tlv>> parse_tlvs(std::span<const std::uint8_t> bytes);

// nullopt addresses: "PROXY UNKNOWN". A v4 address paired with a v6 one is
// sent as its v4-mapped IPv6 form (both sides must be of one family).
std::vector<std::uint8_t> encode_v1(const std::optional<address_pair>& addresses);
// nullopt addresses: AF_UNSPEC. Empty result when the TLVs do not fit the
// 16-bit length field (callers check with v2_payload_size first).
std::vector<std::uint8_t> encode_v2(command cmd, const std::optional<address_pair>& addresses,
                                    std::span<const tlv> tlvs);
// Payload bytes (addresses + TLVs) encode_v2 would produce.
std::size_t v2_payload_size(const std::optional<address_pair>& addresses, std::span<const tlv> tlvs);

// One TLV's wire form (type, 16-bit length, value): the sub-TLVs of ssl.
void append_tlv(std::vector<std::uint8_t>& out, std::uint8_t type, std::span<const std::uint8_t> value);
void append_tlv(std::vector<std::uint8_t>& out, std::uint8_t type, std::string_view value);

}  // namespace mtlsd::proxy::pp
