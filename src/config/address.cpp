// Owner: config module. Endpoint addresses ("tls://0.0.0.0:8443").
#include "mtlsd/config/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>

#include "config/text_util.hpp"

namespace mtlsd {
using config_detail::ascii_lower;
using config_detail::quote;

namespace {

constexpr std::string_view scheme_hint = "expected tls://, ssl:// or tcp://";

// inet_ntop spelling, so that equal addresses compare equal as strings.
std::optional<std::string> canonical_ip(int family, const std::string& text) {
  std::array<unsigned char, sizeof(in6_addr)> raw{};
  if (inet_pton(family, text.c_str(), raw.data()) != 1) return std::nullopt;
  std::array<char, INET6_ADDRSTRLEN> out{};
  if (inet_ntop(family, raw.data(), out.data(), out.size()) == nullptr) return std::nullopt;
  return std::string(out.data());
}

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// RFC 1123 host names: labels of letters, digits and inner hyphens.
bool valid_dns_name(std::string_view name, std::string& why) {
  if (name.size() > 253) {
    why = "longer than 253 characters";
    return false;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    const std::string_view label = name.substr(start, dot == std::string_view::npos ? name.npos : dot - start);
    if (label.empty() || label.size() > 63) {
      why = "each dot-separated label must be 1 to 63 characters";
      return false;
    }
    for (char c : label) {
      if (!is_alnum(c) && c != '-') {
        why = "only letters, digits, '-' and '.' are allowed";
        return false;
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      why = "a label may not begin or end with '-'";
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::optional<std::uint16_t> parse_port(std::string_view text, std::string& error) {
  const std::string bad = "invalid port " + quote(text) + ": expected a number from 0 to 65535";
  if (text.empty()) {
    error = "missing port after ':'";
    return std::nullopt;
  }
  if (text.size() > 5) {
    error = bad;
    return std::nullopt;
  }
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      error = bad;
      return std::nullopt;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) {
    error = bad;
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::string endpoint_address::to_string() const {
  return (scheme == transport::tls ? "tls://" : "tcp://") + host_port();
}

std::string endpoint_address::host_port() const {
  const std::string port_text = std::to_string(port);
  if (host_is_ipv6_literal()) return "[" + host + "]:" + port_text;
  return host + ":" + port_text;
}

bool endpoint_address::host_is_ipv6_literal() const { return host.find(':') != std::string::npos; }

std::optional<endpoint_address> parse_endpoint(std::string_view text, std::string& error) {
  endpoint_address result;
  const std::size_t separator = text.find("://");
  if (separator == std::string_view::npos) {
    error = "missing scheme: " + std::string(scheme_hint) + " (e.g. \"tcp://127.0.0.1:8080\")";
    return std::nullopt;
  }
  // RFC 3986: schemes are case-insensitive.
  const std::string scheme = ascii_lower(text.substr(0, separator));
  if (scheme == "tls" || scheme == "ssl") {
    result.scheme = transport::tls;
  } else if (scheme == "tcp") {
    result.scheme = transport::tcp;
  } else {
    error = "unsupported scheme " + quote(text.substr(0, separator + 3)) + ": " + std::string(scheme_hint);
    return std::nullopt;
  }

  const std::string_view rest = text.substr(separator + 3);
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      error = "missing ']' after IPv6 address";
      return std::nullopt;
    }
    const std::string host(rest.substr(1, close - 1));
    auto canonical = canonical_ip(AF_INET6, host);
    if (!canonical) {
      error = "invalid IPv6 address " + quote(host);
      return std::nullopt;
    }
    result.host = std::move(*canonical);
    const std::string_view after = rest.substr(close + 1);
    if (after.empty() || after.front() != ':') {
      error = "missing port: expected ':' and a port after ']' (e.g. \"[::1]:8443\")";
      return std::nullopt;
    }
    port_text = after.substr(1);
  } else {
    const std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      error = "missing port (e.g. \"127.0.0.1:8443\")";
      return std::nullopt;
    }
    if (rest.find(':') != colon) {
      error = "IPv6 addresses must be written in brackets (e.g. \"[::1]:8443\")";
      return std::nullopt;
    }
    const std::string host(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
    if (host.empty()) {
      error = "missing host before the port";
      return std::nullopt;
    }
    if (host.find_first_not_of("0123456789.") == std::string::npos) {
      auto canonical = canonical_ip(AF_INET, host);
      if (!canonical) {
        error = "invalid IPv4 address " + quote(host);
        return std::nullopt;
      }
      result.host = std::move(*canonical);
    } else {
      std::string why;
      if (!valid_dns_name(host, why)) {
        error = "invalid host name " + quote(host) + ": " + why;
        return std::nullopt;
      }
      // DNS names are case-insensitive; one spelling keeps comparisons simple.
      result.host = ascii_lower(host);
    }
  }
  auto port = parse_port(port_text, error);
  if (!port) return std::nullopt;
  result.port = *port;
  return result;
}

std::string to_string(const std::vector<endpoint_address>& addresses) {
  std::string out;
  for (const auto& address : addresses) out += (out.empty() ? "" : ", ") + address.to_string();
  return out;
}

}  // namespace mtlsd
