#pragma once
// SPIFFE ID syntax (SPIFFE ID specification, sections 2.1-2.3), owned by the
// identity module. Header-only on purpose: the config loader validates
// [service.allow] spiffe_* entries with it and links neither the identity
// module nor OpenSSL, while the policy (policy.hpp) judges the URI SAN of a
// certificate with the very same rules.

#include <cstddef>
#include <string>
#include <string_view>

namespace mtlsd {

inline constexpr std::string_view spiffe_scheme = "spiffe://";
inline constexpr std::size_t spiffe_id_max_length = 2048;           // bytes, whole URI
inline constexpr std::size_t spiffe_trust_domain_max_length = 255;  // bytes

namespace spiffe_detail {

inline bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

inline std::string shown(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte > 0x20 && byte < 0x7f) return std::string("'") + c + "'";
  static constexpr char digits[] = "0123456789abcdef";
  return std::string("byte 0x") + digits[byte >> 4] + digits[byte & 0x0f];
}

}  // namespace spiffe_detail

// Empty when `name` is a valid trust domain name ("example.org"), otherwise
// why it is not. The spec allows only lowercase letters, digits, '.', '-'
// and '_'; a port, userinfo or uppercase letter is named specifically because
// those are the usual copy-and-paste mistakes.
inline std::string spiffe_trust_domain_problem(std::string_view name) {
  using spiffe_detail::shown;
  if (name.empty()) return "trust domain is empty";
  if (name.size() > spiffe_trust_domain_max_length) {
    return "trust domain is longer than " + std::to_string(spiffe_trust_domain_max_length) + " bytes";
  }
  for (const char c : name) {
    if (spiffe_detail::lower_alnum(c) || c == '.' || c == '-' || c == '_') continue;
    if (c >= 'A' && c <= 'Z') return "trust domain must be lowercase (found " + shown(c) + ")";
    if (c == ':') return "trust domain must not have a port";
    if (c == '@') return "trust domain must not have userinfo ('@')";
    return "trust domain may only contain a-z, 0-9, '.', '-' and '_' (found " + shown(c) + ")";
  }
  return {};
}

// Empty when `id` is a valid SPIFFE ID ("spiffe://example.org/ns/prod/sa/api"),
// otherwise why it is not. On success `trust_domain`, when given, is set to
// the trust domain name within `id`.
inline std::string spiffe_id_problem(std::string_view id, std::string_view* trust_domain = nullptr) {
  using spiffe_detail::shown;
  if (id.size() > spiffe_id_max_length) {
    return "longer than " + std::to_string(spiffe_id_max_length) + " bytes (" + std::to_string(id.size()) + ")";
  }
  if (!id.starts_with(spiffe_scheme)) {
    const std::size_t colon = id.find(':');
    if (colon != std::string_view::npos) {
      std::string scheme(id.substr(0, colon));
      for (char& c : scheme) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      if (scheme == "spiffe" && id.substr(0, colon) != "spiffe") {
        return "scheme must be written \"spiffe://\" in lowercase";
      }
    }
    return "must start with \"spiffe://\"";
  }
  // Checked before the parts: '?' or '#' would otherwise be reported as an
  // odd character of whichever part they happen to follow.
  if (id.find('?') != std::string_view::npos) return "must not have a query ('?')";
  if (id.find('#') != std::string_view::npos) return "must not have a fragment ('#')";

  const std::string_view rest = id.substr(spiffe_scheme.size());
  const std::size_t slash = rest.find('/');
  const std::string_view domain = rest.substr(0, slash);
  if (std::string why = spiffe_trust_domain_problem(domain); !why.empty()) return why;
  if (slash == std::string_view::npos) {
    if (trust_domain != nullptr) *trust_domain = domain;
    return {};
  }

  std::string_view path = rest.substr(slash);  // starts with '/'
  if (path.back() == '/') return "path must not end with '/'";
  while (!path.empty()) {
    path.remove_prefix(1);  // the '/' before this segment
    const std::size_t end = path.find('/');
    const std::string_view segment = path.substr(0, end);
    if (segment.empty()) return "path has an empty segment (\"//\")";
    if (segment == "." || segment == "..") return "path must not have \"" + std::string(segment) + "\" segments";
    for (const char c : segment) {
      if (spiffe_detail::lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == '_') continue;
      return "path may only contain letters, digits, '.', '-' and '_' (found " + shown(c) + ")";
    }
    path = end == std::string_view::npos ? std::string_view() : path.substr(end);
  }
  if (trust_domain != nullptr) *trust_domain = domain;
  return {};
}

}  // namespace mtlsd
