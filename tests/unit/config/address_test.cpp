// Owner: config module tests. Endpoint addresses: scheme, host, port.
#include <gtest/gtest.h>

#include "mtlsd/config/address.hpp"

namespace mtlsd {
namespace {

endpoint_address parse_ok(std::string_view text) {
  std::string error;
  auto address = parse_endpoint(text, error);
  EXPECT_TRUE(address.has_value()) << text << ": " << error;
  return address.value_or(endpoint_address{});
}

std::string error_of(std::string_view text) {
  std::string error;
  EXPECT_FALSE(parse_endpoint(text, error).has_value()) << text;
  return error;
}

TEST(parse_endpoint, tls_listener_on_ipv4) {
  const endpoint_address a = parse_ok("tls://0.0.0.0:8443");
  EXPECT_EQ(a.scheme, transport::tls);
  EXPECT_EQ(a.host, "0.0.0.0");
  EXPECT_EQ(a.port, 8443);
  EXPECT_FALSE(a.host_is_ipv6_literal());
  EXPECT_EQ(a.to_string(), "tls://0.0.0.0:8443");
  EXPECT_EQ(a.host_port(), "0.0.0.0:8443");
}

TEST(parse_endpoint, ssl_is_an_alias_printed_as_tls) {
  const endpoint_address a = parse_ok("ssl://127.0.0.1:443");
  EXPECT_EQ(a.scheme, transport::tls);
  EXPECT_EQ(a.to_string(), "tls://127.0.0.1:443");
}

TEST(parse_endpoint, scheme_is_case_insensitive) {
  EXPECT_EQ(parse_ok("TCP://127.0.0.1:80").scheme, transport::tcp);
  EXPECT_EQ(parse_ok("Tls://127.0.0.1:80").scheme, transport::tls);
}

TEST(parse_endpoint, ipv6_literal_in_brackets) {
  const endpoint_address a = parse_ok("tls://[::1]:8443");
  EXPECT_EQ(a.host, "::1");
  EXPECT_TRUE(a.host_is_ipv6_literal());
  EXPECT_EQ(a.to_string(), "tls://[::1]:8443");
  EXPECT_EQ(a.host_port(), "[::1]:8443");
}

TEST(parse_endpoint, ipv6_literal_is_canonicalised) {
  EXPECT_EQ(parse_ok("tcp://[0:0:0:0:0:0:0:1]:80").host, "::1");
  EXPECT_EQ(parse_ok("tcp://[2001:DB8::0:1]:80").host, "2001:db8::1");
  EXPECT_EQ(parse_ok("tcp://[::]:80").to_string(), "tcp://[::]:80");
}

TEST(parse_endpoint, dns_name_is_lowercased) {
  const endpoint_address a = parse_ok("tcp://Backend-1.Example.COM:8080");
  EXPECT_EQ(a.scheme, transport::tcp);
  EXPECT_EQ(a.host, "backend-1.example.com");
  EXPECT_EQ(a.host_port(), "backend-1.example.com:8080");
  EXPECT_EQ(parse_ok("tcp://localhost:1").host, "localhost");
}

TEST(parse_endpoint, port_range) {
  EXPECT_EQ(parse_ok("tcp://127.0.0.1:0").port, 0);
  EXPECT_EQ(parse_ok("tcp://127.0.0.1:65535").port, 65535);
  EXPECT_EQ(error_of("tcp://127.0.0.1:65536"), "invalid port \"65536\": expected a number from 0 to 65535");
  EXPECT_EQ(error_of("tcp://127.0.0.1:-1"), "invalid port \"-1\": expected a number from 0 to 65535");
  EXPECT_EQ(error_of("tcp://127.0.0.1:http"), "invalid port \"http\": expected a number from 0 to 65535");
  EXPECT_EQ(error_of("tcp://127.0.0.1:80/path"), "invalid port \"80/path\": expected a number from 0 to 65535");
  EXPECT_EQ(error_of("tcp://127.0.0.1:0000080"), "invalid port \"0000080\": expected a number from 0 to 65535");
}

TEST(parse_endpoint, scheme_is_required) {
  EXPECT_EQ(error_of("127.0.0.1:8443"),
            "missing scheme: expected tls://, ssl:// or tcp:// (e.g. \"tcp://127.0.0.1:8080\")");
  EXPECT_EQ(error_of("https://127.0.0.1:8443"), "unsupported scheme \"https://\": expected tls://, ssl:// or tcp://");
  EXPECT_EQ(error_of("://127.0.0.1:8443"), "unsupported scheme \"://\": expected tls://, ssl:// or tcp://");
}

TEST(parse_endpoint, port_is_required) {
  EXPECT_EQ(error_of("tcp://127.0.0.1"), "missing port (e.g. \"127.0.0.1:8443\")");
  EXPECT_EQ(error_of("tcp://127.0.0.1:"), "missing port after ':'");
  EXPECT_EQ(error_of("tcp://[::1]"), "missing port: expected ':' and a port after ']' (e.g. \"[::1]:8443\")");
  EXPECT_EQ(error_of("tcp://[::1]8443"), "missing port: expected ':' and a port after ']' (e.g. \"[::1]:8443\")");
}

TEST(parse_endpoint, host_is_required) {
  EXPECT_EQ(error_of("tcp://:8443"), "missing host before the port");
  EXPECT_EQ(error_of("tcp://"), "missing port (e.g. \"127.0.0.1:8443\")");
}

TEST(parse_endpoint, ipv6_needs_brackets) {
  EXPECT_EQ(error_of("tcp://::1:8443"), "IPv6 addresses must be written in brackets (e.g. \"[::1]:8443\")");
}

TEST(parse_endpoint, rejects_bad_ip_literals) {
  EXPECT_EQ(error_of("tcp://[::g]:80"), "invalid IPv6 address \"::g\"");
  EXPECT_EQ(error_of("tcp://[127.0.0.1]:80"), "invalid IPv6 address \"127.0.0.1\"");
  EXPECT_EQ(error_of("tcp://[fe80::1%eth0]:80"), "invalid IPv6 address \"fe80::1%eth0\"");
  EXPECT_EQ(error_of("tcp://[::1:80"), "missing ']' after IPv6 address");
  EXPECT_EQ(error_of("tcp://256.1.1.1:80"), "invalid IPv4 address \"256.1.1.1\"");
  EXPECT_EQ(error_of("tcp://1.2.3:80"), "invalid IPv4 address \"1.2.3\"");
}

TEST(parse_endpoint, rejects_bad_host_names) {
  EXPECT_EQ(error_of("tcp://bad_name:80"),
            "invalid host name \"bad_name\": only letters, digits, '-' and '.' are allowed");
  EXPECT_EQ(error_of("tcp://a..b:80"), "invalid host name \"a..b\": each dot-separated label must be 1 to 63 characters");
  EXPECT_EQ(error_of("tcp://example.com.:80"),
            "invalid host name \"example.com.\": each dot-separated label must be 1 to 63 characters");
  EXPECT_EQ(error_of("tcp://-a.example:80"), "invalid host name \"-a.example\": a label may not begin or end with '-'");
  EXPECT_EQ(error_of("tcp://user@host:80"),
            "invalid host name \"user@host\": only letters, digits, '-' and '.' are allowed");
}

TEST(parse_endpoint, host_name_length_limits) {
  const std::string label63(63, 'a');
  EXPECT_EQ(parse_ok("tcp://" + label63 + ".example:1").host, label63 + ".example");
  const std::string label64(64, 'a');
  EXPECT_EQ(error_of("tcp://" + label64 + ".example:1"),
            "invalid host name \"" + label64 + ".example\": each dot-separated label must be 1 to 63 characters");

  std::string name253;  // three 63-character labels with their dots (192), then 61 more
  for (int i = 0; i < 3; ++i) name253 += label63 + ".";
  name253 += std::string(61, 'b');
  ASSERT_EQ(name253.size(), 253u);
  EXPECT_EQ(parse_ok("tcp://" + name253 + ":1").host, name253);
  EXPECT_EQ(error_of("tcp://" + name253 + "b:1"), "invalid host name \"" + name253 + "b\": longer than 253 characters");
}

TEST(endpoint_address, equality_compares_all_fields) {
  EXPECT_EQ(parse_ok("ssl://[::1]:1"), parse_ok("tls://[0::1]:1"));
  EXPECT_NE(parse_ok("tcp://[::1]:1"), parse_ok("tls://[::1]:1"));
  EXPECT_NE(parse_ok("tcp://[::1]:1"), parse_ok("tcp://[::1]:2"));
}

}  // namespace
}  // namespace mtlsd
