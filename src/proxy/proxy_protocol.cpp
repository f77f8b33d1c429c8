#include "mtlsd/proxy/proxy_protocol.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace mtlsd::proxy::pp {

namespace ip = boost::asio::ip;
using ip::tcp;

namespace {

constexpr std::array<std::uint8_t, 12> v2_signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                       0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view v1_prefix = "PROXY ";
// "PROXY UNKNOWN\r\n": no complete header of either version is shorter, so
// reading this much first never takes a byte past the header.
constexpr std::size_t shortest_header = 15;

constexpr std::size_t inet_block = 12;   // 2 x 4-byte address + 2 x port
constexpr std::size_t inet6_block = 36;  // 2 x 16-byte address + 2 x port
constexpr std::size_t unix_block = 216;  // 2 x 108-byte path

parse_result need(std::size_t total) {
  parse_result r;
  r.status = parse_status::need_more;
  r.need = total;
  return r;
}

parse_result invalid(parse_error error, std::string detail) {
  parse_result r;
  r.status = parse_status::invalid;
  r.error = error;
  r.detail = std::move(detail);
  return r;
}

bool starts_like(std::span<const std::uint8_t> bytes, std::span<const std::uint8_t> prefix) {
  const auto n = std::min(bytes.size(), prefix.size());
  return std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n), prefix.begin());
}

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F && c != '"' && c != '\\') {
      out += c;
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xF];
    }
  }
  return out;
}

// Strict decimal port: 0-65535, no sign, no leading zeros (spec 2.1).
std::optional<std::uint16_t> v1_port(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value > 0xFFFF) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::optional<ip::address> v1_address(std::string_view text, bool v6) {
  // inet_pton's forms only: dotted quad without leading zeros, or RFC 4291
  // text; Asio adds a scope id ("%eth0") which has no place in the header.
  if (text.find('%') != std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  if (v6) {
    const auto a = ip::make_address_v6(std::string(text), ec);
    if (ec) return std::nullopt;
    return ip::address(a);
  }
  const auto a = ip::make_address_v4(std::string(text), ec);
  if (ec) return std::nullopt;
  return ip::address(a);
}

parse_result parse_v1(std::span<const std::uint8_t> bytes) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), std::min(bytes.size(), v1_max_size));
  const auto cr = text.find('\r');
  const auto lf = text.find('\n');
  if (lf != std::string_view::npos && (cr == std::string_view::npos || cr + 1 != lf))
    return invalid(parse_error::malformed, "v1 line feed without a carriage return before it");
  if (cr == std::string_view::npos || cr + 1 >= text.size()) {
    if (text.size() >= v1_max_size)
      return invalid(parse_error::too_large, "v1 header without CRLF in its first 107 bytes");
    // The CRLF is at least two bytes away, unless its CR is here already.
    return need(std::min(v1_max_size, text.size() + (cr == std::string_view::npos ? 2 : 1)));
  }
  if (text[cr + 1] != '\n') return invalid(parse_error::malformed, "v1 carriage return not followed by a line feed");
  const std::string_view line = text.substr(v1_prefix.size(), cr - v1_prefix.size());
  for (const char c : line)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F)
      return invalid(parse_error::malformed, "v1 header with a non-printable byte");

  parse_result r;
  r.status = parse_status::complete;
  r.value.version = 1;
  r.value.size = cr + 2;
  if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) return r;  // the rest is to be ignored (spec 2.1)

  std::array<std::string_view, 5> fields;
  std::size_t count = 0;
  for (std::size_t start = 0;;) {
    const auto space = line.find(' ', start);
    const auto field = line.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start);
    if (field.empty() || count == fields.size())
      return invalid(parse_error::malformed,
                     "v1 header is not \"PROXY TCP4|TCP6 src dst sport dport\": \"" + printable(line) + "\"");
    fields[count++] = field;
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  if (count != fields.size())
    return invalid(parse_error::malformed,
                   "v1 header is not \"PROXY TCP4|TCP6 src dst sport dport\": \"" + printable(line) + "\"");
  if (fields[0] != "TCP4" && fields[0] != "TCP6")
    return invalid(parse_error::malformed, "v1 protocol \"" + printable(fields[0]) + "\" is none of TCP4 TCP6 UNKNOWN");
  const bool v6 = fields[0] == "TCP6";
  const auto source = v1_address(fields[1], v6);
  const auto destination = v1_address(fields[2], v6);
  if (!source || !destination)
    return invalid(parse_error::malformed, "v1 " + std::string(fields[0]) + " address \"" +
                                               printable(source ? fields[2] : fields[1]) + "\" is invalid");
  const auto source_port = v1_port(fields[3]);
  const auto destination_port = v1_port(fields[4]);
  if (!source_port || !destination_port)
    return invalid(parse_error::malformed,
                   "v1 port \"" + printable(source_port ? fields[4] : fields[3]) + "\" is invalid");
  r.value.addresses =
      address_pair{tcp::endpoint(*source, *source_port), tcp::endpoint(*destination, *destination_port)};
  return r;
}

std::uint16_t read_u16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

void put_u16(std::vector<std::uint8_t>& out, std::size_t value) {
  out.push_back(static_cast<std::uint8_t>((value >> 8) & 0xFF));
  out.push_back(static_cast<std::uint8_t>(value & 0xFF));
}

parse_result parse_v2(std::span<const std::uint8_t> bytes, std::size_t max_payload) {
  if (bytes.size() < v2_fixed_size) return need(v2_fixed_size);
  const std::uint8_t version = bytes[12] >> 4;
  const std::uint8_t cmd = bytes[12] & 0x0F;
  const std::uint8_t family = bytes[13] >> 4;
  const std::uint8_t transport = bytes[13] & 0x0F;
  const std::size_t length = read_u16(bytes.data() + 14);
  if (version != 2) return invalid(parse_error::malformed, "v2 signature with version " + std::to_string(version));
  if (cmd > 1)
    return invalid(parse_error::malformed, "v2 command " + std::to_string(cmd) + " is neither LOCAL nor PROXY");
  if (family > 3 || transport > 2)
    return invalid(
        parse_error::malformed, "v2 address family/transport byte 0x" + [&] {
          static constexpr char hex[] = "0123456789abcdef";
          return std::string{hex[bytes[13] >> 4], hex[bytes[13] & 0xF]};
        }() + " is undefined");
  if (length > max_payload)
    return invalid(parse_error::too_large, "v2 header announces " + std::to_string(length) + " bytes, more than " +
                                               std::to_string(max_payload));
  if (bytes.size() < v2_fixed_size + length) return need(v2_fixed_size + length);

  parse_result r;
  r.status = parse_status::complete;
  r.value.version = 2;
  r.value.size = v2_fixed_size + length;
  r.value.cmd = cmd == 0 ? command::local : command::proxy;
  // LOCAL: the receiver must ignore the address block and whatever follows.
  if (r.value.cmd == command::local) return r;

  const std::uint8_t* payload = bytes.data() + v2_fixed_size;
  const std::size_t block = family == 1 ? inet_block : family == 2 ? inet6_block : family == 3 ? unix_block : 0;
  if (length < block)
    return invalid(parse_error::malformed, "v2 length " + std::to_string(length) + " is shorter than the " +
                                               std::to_string(block) + "-byte address block of its family");
  if (transport == 1 && family == 1) {
    ip::address_v4::bytes_type s, d;
    std::memcpy(s.data(), payload, 4);
    std::memcpy(d.data(), payload + 4, 4);
    r.value.addresses = address_pair{tcp::endpoint(ip::address_v4(s), read_u16(payload + 8)),
                                     tcp::endpoint(ip::address_v4(d), read_u16(payload + 10))};
  } else if (transport == 1 && family == 2) {
    ip::address_v6::bytes_type s, d;
    std::memcpy(s.data(), payload, 16);
    std::memcpy(d.data(), payload + 16, 16);
    r.value.addresses = address_pair{tcp::endpoint(ip::address_v6(s), read_u16(payload + 32)),
                                     tcp::endpoint(ip::address_v6(d), read_u16(payload + 34))};
  }
  auto tlvs = parse_tlvs(std::span(payload + block, length - block));
  if (!tlvs) return invalid(parse_error::malformed, "v2 TLV runs past the end of the header");
  r.value.tlvs = std::move(*tlvs);
  return r;
}

}  // namespace

std::string_view to_string(parse_error error) {
  switch (error) {
    case parse_error::none:
      return "none";
    case parse_error::malformed:
      return "malformed";
    case parse_error::too_large:
      return "too_large";
  }
  return "none";
}

parse_result parse(std::span<const std::uint8_t> bytes, std::size_t max_v2_payload) {
  const bool maybe_v2 = starts_like(bytes, v2_signature);
  const bool maybe_v1 = starts_like(bytes, as_bytes(v1_prefix));
  if (!maybe_v1 && !maybe_v2)
    return invalid(parse_error::malformed, "no PROXY protocol signature: first bytes \"" +
                                               printable(std::string_view(reinterpret_cast<const char*>(bytes.data()),
                                                                          std::min<std::size_t>(bytes.size(), 16))) +
                                               "\"");
  if (bytes.size() < shortest_header) return need(shortest_header);
  return maybe_v2 ? parse_v2(bytes, max_v2_payload) : parse_v1(bytes);
}

std::optional<std::vector<tlv>> parse_tlvs(std::span<const std::uint8_t> bytes) {
  std::vector<tlv> out;
  std::size_t at = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < 3) return std::nullopt;
    const std::size_t length = read_u16(bytes.data() + at + 1);
    if (bytes.size() - at - 3 < length) return std::nullopt;
    tlv t;
    t.type = bytes[at];
    t.value.assign(bytes.begin() + static_cast<std::ptrdiff_t>(at + 3),
                   bytes.begin() + static_cast<std::ptrdiff_t>(at + 3 + length));
    out.push_back(std::move(t));
    at += 3 + length;
  }
  return out;
}

namespace {

// Both ends in one family, as both header versions require.
address_pair same_family(const address_pair& in) {
  if (in.source.address().is_v4() == in.destination.address().is_v4()) return in;
  auto widen = [](const tcp::endpoint& e) {
    if (e.address().is_v6()) return e;
    return tcp::endpoint(ip::make_address_v6(ip::v4_mapped, e.address().to_v4()), e.port());
  };
  return {widen(in.source), widen(in.destination)};
}

}  // namespace

std::vector<std::uint8_t> encode_v1(const std::optional<address_pair>& addresses) {
  std::string line = "PROXY ";
  if (!addresses) {
    line += "UNKNOWN";
  } else {
    const auto pair = same_family(*addresses);
    line += pair.source.address().is_v4() ? "TCP4 " : "TCP6 ";
    line += pair.source.address().to_string() + " " + pair.destination.address().to_string() + " " +
            std::to_string(pair.source.port()) + " " + std::to_string(pair.destination.port());
  }
  line += "\r\n";
  return {line.begin(), line.end()};
}

std::size_t v2_payload_size(const std::optional<address_pair>& addresses, std::span<const tlv> tlvs) {
  std::size_t size = 0;
  if (addresses) size = same_family(*addresses).source.address().is_v4() ? inet_block : inet6_block;
  for (const auto& t : tlvs) size += 3 + t.value.size();
  return size;
}

std::vector<std::uint8_t> encode_v2(command cmd, const std::optional<address_pair>& addresses,
                                    std::span<const tlv> tlvs) {
  const std::size_t payload = v2_payload_size(addresses, tlvs);
  for (const auto& t : tlvs)
    if (t.value.size() > v2_max_payload) return {};
  if (payload > v2_max_payload) return {};
  std::vector<std::uint8_t> out(v2_signature.begin(), v2_signature.end());
  out.reserve(v2_fixed_size + payload);
  out.push_back(static_cast<std::uint8_t>(0x20 | (cmd == command::proxy ? 1 : 0)));
  std::optional<address_pair> pair;
  if (addresses) pair = same_family(*addresses);
  out.push_back(!pair ? 0x00 : pair->source.address().is_v4() ? 0x11 : 0x21);
  put_u16(out, payload);
  if (pair) {
    if (pair->source.address().is_v4()) {
      for (const auto b : pair->source.address().to_v4().to_bytes()) out.push_back(b);
      for (const auto b : pair->destination.address().to_v4().to_bytes()) out.push_back(b);
    } else {
      for (const auto b : pair->source.address().to_v6().to_bytes()) out.push_back(b);
      for (const auto b : pair->destination.address().to_v6().to_bytes()) out.push_back(b);
    }
    put_u16(out, pair->source.port());
    put_u16(out, pair->destination.port());
  }
  for (const auto& t : tlvs) append_tlv(out, t.type, t.value);
  return out;
}

void append_tlv(std::vector<std::uint8_t>& out, std::uint8_t type, std::span<const std::uint8_t> value) {
  out.push_back(type);
  put_u16(out, value.size());
  out.insert(out.end(), value.begin(), value.end());
}

void append_tlv(std::vector<std::uint8_t>& out, std::uint8_t type, std::string_view value) {
  append_tlv(out, type, as_bytes(value));
}

}  // namespace mtlsd::proxy::pp
