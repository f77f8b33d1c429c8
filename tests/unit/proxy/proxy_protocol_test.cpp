// The PROXY protocol codec: what we send must parse back to the same
// addresses and TLVs, and what a balancer sends must be accepted exactly
// when the spec allows it, without reading past the header.

#include "mtlsd/proxy/proxy_protocol.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mtlsd::proxy::pp {
namespace {

namespace ip = boost::asio::ip;
using ip::tcp;

std::vector<std::uint8_t> bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

address_pair v4_pair() {
  return {tcp::endpoint(ip::make_address("192.0.2.10"), 51234), tcp::endpoint(ip::make_address("198.51.100.1"), 443)};
}

address_pair v6_pair() {
  return {tcp::endpoint(ip::make_address("2001:db8::7"), 40000), tcp::endpoint(ip::make_address("2001:db8::1"), 8443)};
}

const std::vector<std::uint8_t> signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

std::vector<std::uint8_t> v2_raw(std::uint8_t ver_cmd, std::uint8_t fam, std::vector<std::uint8_t> payload) {
  auto out = signature;
  out.push_back(ver_cmd);
  out.push_back(fam);
  out.push_back(static_cast<std::uint8_t>(payload.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(payload.size() & 0xFF));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

parse_result parse_text(std::string_view text) { return parse(bytes_of(text)); }

void expect_invalid(const parse_result& r, parse_error error) {
  EXPECT_EQ(r.status, parse_status::invalid);
  EXPECT_EQ(r.error, error) << r.detail;
  EXPECT_FALSE(r.detail.empty());
}

TEST(proxy_protocol_v1, tcp4_round_trip) {
  const auto wire = encode_v1(v4_pair());
  EXPECT_EQ(std::string(wire.begin(), wire.end()), "PROXY TCP4 192.0.2.10 198.51.100.1 51234 443\r\n");
  const auto r = parse(wire);
  ASSERT_EQ(r.status, parse_status::complete) << r.detail;
  EXPECT_EQ(r.value.version, 1);
  EXPECT_EQ(r.value.size, wire.size());
  ASSERT_TRUE(r.value.addresses);
  EXPECT_EQ(r.value.addresses->source, v4_pair().source);
  EXPECT_EQ(r.value.addresses->destination, v4_pair().destination);
}

TEST(proxy_protocol_v1, tcp6_round_trip) {
  const auto wire = encode_v1(v6_pair());
  EXPECT_EQ(std::string(wire.begin(), wire.end()), "PROXY TCP6 2001:db8::7 2001:db8::1 40000 8443\r\n");
  const auto r = parse(wire);
  ASSERT_EQ(r.status, parse_status::complete) << r.detail;
  EXPECT_EQ(r.value.addresses->source, v6_pair().source);
  EXPECT_EQ(r.value.addresses->destination, v6_pair().destination);
}

TEST(proxy_protocol_v1, mixed_families_are_sent_as_v4_mapped_tcp6) {
  const address_pair mixed{v4_pair().source, v6_pair().destination};
  const auto wire = encode_v1(mixed);
  EXPECT_EQ(std::string(wire.begin(), wire.end()), "PROXY TCP6 ::ffff:192.0.2.10 2001:db8::1 51234 8443\r\n");
}

TEST(proxy_protocol_v1, unknown_keeps_no_addresses_and_ignores_the_rest_of_the_line) {
  auto r = parse_text("PROXY UNKNOWN\r\n");
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_FALSE(r.value.addresses);
  EXPECT_EQ(r.value.size, 15u);
  r = parse_text("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n");
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_FALSE(r.value.addresses);
  const auto wire = encode_v1(std::nullopt);
  EXPECT_EQ(std::string(wire.begin(), wire.end()), "PROXY UNKNOWN\r\n");
}

TEST(proxy_protocol_v1, bytes_after_the_header_are_not_part_of_it) {
  const auto r = parse_text("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n\x16\x03\x01");
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(r.value.size, 32u);
}

TEST(proxy_protocol_v1, need_never_asks_past_the_end_of_the_header) {
  const std::string line = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
  std::vector<std::uint8_t> have;
  auto r = parse(have);
  // Feed exactly what parse asks for, as the session does: it must complete
  // with exactly the line and never have asked for more.
  for (int guard = 0; r.status == parse_status::need_more && guard < 200; ++guard) {
    ASSERT_LE(r.need, line.size());
    ASSERT_GT(r.need, have.size());
    have.assign(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(r.need));
    r = parse(have);
  }
  ASSERT_EQ(r.status, parse_status::complete) << r.detail;
  EXPECT_EQ(have.size(), line.size());
}

TEST(proxy_protocol_v1, a_107_byte_line_is_accepted_and_one_more_is_too_large) {
  // "PROXY UNKNOWN " + padding + CRLF: the longest a v1 header may be.
  std::string line = "PROXY UNKNOWN ";
  line += std::string(107 - line.size() - 2, 'x');
  line += "\r\n";
  ASSERT_EQ(line.size(), 107u);
  EXPECT_EQ(parse_text(line).status, parse_status::complete);
  std::string longer = "PROXY UNKNOWN " + std::string(107 - 14 - 1, 'x') + "\r\n";
  ASSERT_EQ(longer.size(), 108u);
  expect_invalid(parse_text(longer), parse_error::too_large);
  expect_invalid(parse_text("PROXY TCP4 " + std::string(200, '1')), parse_error::too_large);
}

TEST(proxy_protocol_v1, malformed_lines_are_refused) {
  for (const char* line : {
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",        // LF without CR
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",       // CR without LF
           "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",      // unknown protocol
           "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",        // a field missing
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",    // a field too many
           "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",     // double space
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",     // trailing space
           "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",    // octet out of range
           "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",        // three octets
           "PROXY TCP4 ::1 5.6.7.8 1 2\r\n",          // v6 under TCP4
           "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",          // v4 under TCP6
           "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",     // scope id
           "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",  // port out of range
           "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",     // leading zero
           "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",     // sign
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n",     // sign
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2a\r\n",     // trailing garbage
           "PROXY \r\n1234567",                       // nothing
           "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",      // case
           "GET / HTTP/1.1\r\nHost: x\r\n\r\n",       // not a PROXY header at all
       }) {
    SCOPED_TRACE(line);
    expect_invalid(parse_text(line), parse_error::malformed);
  }
  std::string nul = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
  nul[12] = '\0';
  expect_invalid(parse_text(nul), parse_error::malformed);
}

TEST(proxy_protocol, wrong_first_byte_is_refused_at_once) {
  // A TLS ClientHello where a header belongs: no need to wait for 15 bytes.
  const std::vector<std::uint8_t> hello = {0x16, 0x03, 0x01};
  expect_invalid(parse(hello), parse_error::malformed);
  const auto partial = parse(bytes_of("PRO"));
  EXPECT_EQ(partial.status, parse_status::need_more);
  EXPECT_EQ(partial.need, 15u);
}

TEST(proxy_protocol_v2, tcp4_round_trip_with_tlvs) {
  const std::vector<tlv> tlvs = {{tlv_type::alpn, bytes_of("h2")},
                                 {tlv_type::authority, bytes_of("api.example")},
                                 {tlv_type::cert_sha256, bytes_of(std::string(64, 'a'))},
                                 {0xEF, {}}};
  const auto wire = encode_v2(command::proxy, v4_pair(), tlvs);
  ASSERT_GE(wire.size(), 16u + 12u);
  EXPECT_EQ(std::vector<std::uint8_t>(wire.begin(), wire.begin() + 12), signature);
  EXPECT_EQ(wire[12], 0x21);
  EXPECT_EQ(wire[13], 0x11);
  EXPECT_EQ(std::size_t(wire[14] << 8 | wire[15]), wire.size() - 16);
  const auto r = parse(wire);
  ASSERT_EQ(r.status, parse_status::complete) << r.detail;
  EXPECT_EQ(r.value.version, 2);
  EXPECT_EQ(r.value.cmd, command::proxy);
  EXPECT_EQ(r.value.size, wire.size());
  EXPECT_EQ(r.value.addresses->source, v4_pair().source);
  EXPECT_EQ(r.value.addresses->destination, v4_pair().destination);
  EXPECT_EQ(r.value.tlvs, tlvs);
}

TEST(proxy_protocol_v2, tcp6_round_trip) {
  const auto wire = encode_v2(command::proxy, v6_pair(), {});
  EXPECT_EQ(wire[13], 0x21);
  EXPECT_EQ(wire.size(), 16u + 36u);
  const auto r = parse(wire);
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(r.value.addresses->source, v6_pair().source);
  EXPECT_EQ(r.value.addresses->destination, v6_pair().destination);
}

TEST(proxy_protocol_v2, local_and_unspec_carry_no_addresses) {
  auto r = parse(encode_v2(command::local, std::nullopt, {}));
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(r.value.cmd, command::local);
  EXPECT_FALSE(r.value.addresses);
  // LOCAL with an address block: the block is skipped, not used.
  r = parse(v2_raw(0x20, 0x11, std::vector<std::uint8_t>(12, 1)));
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_FALSE(r.value.addresses);
  EXPECT_EQ(r.value.size, 28u);
  // PROXY over UDP: a valid header, but no TCP addresses to use.
  r = parse(v2_raw(0x21, 0x12, std::vector<std::uint8_t>(12, 1)));
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_FALSE(r.value.addresses);
}

TEST(proxy_protocol_v2, need_follows_the_length_field_exactly) {
  const auto wire = encode_v2(command::proxy, v4_pair(), std::vector<tlv>{{tlv_type::noop, {0, 0, 0}}});
  auto r = parse(std::span(wire.data(), 15));
  EXPECT_EQ(r.status, parse_status::need_more);
  EXPECT_EQ(r.need, 16u);
  r = parse(std::span(wire.data(), 16));
  EXPECT_EQ(r.status, parse_status::need_more);
  EXPECT_EQ(r.need, wire.size());
  r = parse(std::span(wire.data(), wire.size() - 1));
  EXPECT_EQ(r.status, parse_status::need_more);
  EXPECT_EQ(r.need, wire.size());
}

TEST(proxy_protocol_v2, malformed_headers_are_refused) {
  auto bad_signature = encode_v2(command::proxy, v4_pair(), {});
  bad_signature[11] = 0x0B;
  expect_invalid(parse(bad_signature), parse_error::malformed);
  expect_invalid(parse(v2_raw(0x11, 0x11, std::vector<std::uint8_t>(12))), parse_error::malformed);   // version 1
  expect_invalid(parse(v2_raw(0x31, 0x11, std::vector<std::uint8_t>(12))), parse_error::malformed);   // version 3
  expect_invalid(parse(v2_raw(0x22, 0x11, std::vector<std::uint8_t>(12))), parse_error::malformed);   // command 2
  expect_invalid(parse(v2_raw(0x21, 0x41, std::vector<std::uint8_t>(12))), parse_error::malformed);   // family 4
  expect_invalid(parse(v2_raw(0x21, 0x13, std::vector<std::uint8_t>(12))), parse_error::malformed);   // transport 3
  expect_invalid(parse(v2_raw(0x21, 0x11, std::vector<std::uint8_t>(11))), parse_error::malformed);   // short INET
  expect_invalid(parse(v2_raw(0x21, 0x21, std::vector<std::uint8_t>(35))), parse_error::malformed);   // short INET6
  expect_invalid(parse(v2_raw(0x21, 0x31, std::vector<std::uint8_t>(100))), parse_error::malformed);  // short UNIX
  // A TLV whose length runs past the header, and one cut inside its own type/length.
  auto payload = std::vector<std::uint8_t>(12, 1);
  for (const int b : {0x01, 0x00, 0x05, int{'h'}, int{'2'}}) payload.push_back(static_cast<std::uint8_t>(b));
  expect_invalid(parse(v2_raw(0x21, 0x11, payload)), parse_error::malformed);
  payload.resize(14);
  expect_invalid(parse(v2_raw(0x21, 0x11, payload)), parse_error::malformed);
}

TEST(proxy_protocol_v2, length_over_the_bound_is_too_large_before_reading_it) {
  auto header = signature;
  for (const std::uint8_t b : {0x21, 0x11, 0x10, 0x01}) header.push_back(b);  // 4097 bytes announced
  expect_invalid(parse(header), parse_error::too_large);
  // The bound is the caller's: 4097 is fine with a larger one (then it waits for them).
  const auto r = parse(header, 8192);
  EXPECT_EQ(r.status, parse_status::need_more);
  EXPECT_EQ(r.need, 16u + 4097u);
}

TEST(proxy_protocol_v2, ssl_tlv_sub_tlvs_decode) {
  std::vector<std::uint8_t> ssl = {ssl_client::ssl | ssl_client::cert_conn | ssl_client::cert_sess, 0, 0, 0, 0};
  append_tlv(ssl, tlv_type::ssl_version, "TLSv1.3");
  append_tlv(ssl, tlv_type::ssl_cn, "partner-a");
  const auto wire = encode_v2(command::proxy, v4_pair(), std::vector<tlv>{{tlv_type::ssl, ssl}});
  const auto r = parse(wire);
  ASSERT_EQ(r.status, parse_status::complete);
  ASSERT_EQ(r.value.tlvs.size(), 1u);
  const auto& value = r.value.tlvs[0].value;
  EXPECT_EQ(value[0], 0x07);
  const auto subs = parse_tlvs(std::span(value).subspan(5));
  ASSERT_TRUE(subs);
  ASSERT_EQ(subs->size(), 2u);
  EXPECT_EQ((*subs)[0], (tlv{tlv_type::ssl_version, bytes_of("TLSv1.3")}));
  EXPECT_EQ((*subs)[1], (tlv{tlv_type::ssl_cn, bytes_of("partner-a")}));
}

TEST(proxy_protocol_v2, tlvs_that_overflow_the_length_field_are_not_encoded) {
  const std::vector<tlv> huge = {{tlv_type::cert_der, std::vector<std::uint8_t>(0xFFFF - 12 - 3 + 1)}};
  EXPECT_TRUE(encode_v2(command::proxy, v4_pair(), huge).empty());
  const std::vector<tlv> fits = {{tlv_type::cert_der, std::vector<std::uint8_t>(0xFFFF - 12 - 3)}};
  const auto wire = encode_v2(command::proxy, v4_pair(), fits);
  ASSERT_EQ(wire.size(), 16u + 0xFFFFu);
  EXPECT_EQ(parse(wire, v2_max_payload).status, parse_status::complete);
}

}  // namespace
}  // namespace mtlsd::proxy::pp
