#pragma once
// Listener and backend addresses: "tls://0.0.0.0:8443", "tcp://[::1]:8080".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mtlsd {

enum class transport { tcp, tls };

struct endpoint_address {
  transport scheme = transport::tcp;
  std::string host;  // IPv6 literals without brackets
  std::uint16_t port = 0;

  // "tls://[::1]:8443" — canonical spelling ("ssl://" is printed as "tls://").
  std::string to_string() const;
  // "[::1]:8443" / "127.0.0.1:8443" — for logs.
  std::string host_port() const;
  bool host_is_ipv6_literal() const;

  friend bool operator==(const endpoint_address&, const endpoint_address&) = default;
};

// Scheme is required: tls:// (alias ssl://) or tcp://. The host is an IPv4
// literal, a bracketed IPv6 literal, or a DNS name; the port 0..65535. Port 0
// is accepted here (listeners may bind an ephemeral port); callers that need a
// real port check it themselves.
std::optional<endpoint_address> parse_endpoint(std::string_view text, std::string& error);

// "tcp://10.0.0.5:8080, tcp://10.0.0.6:8080": a service's backends, for humans.
std::string to_string(const std::vector<endpoint_address>& addresses);

}  // namespace mtlsd
