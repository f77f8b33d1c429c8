// Owner: config module. Small members of the plain config values.
#include "mtlsd/config/config.hpp"

namespace mtlsd {

std::string_view to_string(log_level level) {
  switch (level) {
    case log_level::trace: return "trace";
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
  }
  return "unknown";
}

std::string_view to_string(log_format format) {
  switch (format) {
    case log_format::text: return "text";
    case log_format::json: return "json";
  }
  return "unknown";
}

std::string_view to_string(verify_client_mode mode) {
  switch (mode) {
    case verify_client_mode::none: return "none";
    case verify_client_mode::want: return "want";
    case verify_client_mode::require: return "require";
  }
  return "unknown";
}

std::string_view to_string(tls_version version) {
  switch (version) {
    case tls_version::tls1_2: return "1.2";
    case tls_version::tls1_3: return "1.3";
  }
  return "unknown";
}

std::string_view to_string(crl_stale_mode mode) {
  switch (mode) {
    case crl_stale_mode::reject: return "reject";
    case crl_stale_mode::warn: return "warn";
  }
  return "unknown";
}

std::string_view to_string(ocsp_mode mode) {
  switch (mode) {
    case ocsp_mode::off: return "off";
    case ocsp_mode::soft: return "soft";
    case ocsp_mode::hard: return "hard";
  }
  return "unknown";
}

std::string_view to_string(proxy_protocol_version version) {
  switch (version) {
    case proxy_protocol_version::off: return "off";
    case proxy_protocol_version::v1: return "v1";
    case proxy_protocol_version::v2: return "v2";
  }
  return "unknown";
}

std::string_view to_string(balance_mode mode) {
  switch (mode) {
    case balance_mode::round_robin: return "round_robin";
    case balance_mode::least_connections: return "least_connections";
    case balance_mode::random_two: return "random_two";
  }
  return "unknown";
}

bool allow_rules::empty() const { return size() == 0; }

std::size_t allow_rules::size() const {
  return cn.size() + ou.size() + o.size() + dns.size() + uri.size() + ip.size() + email.size() + sha256.size() +
         spiffe_trust_domain.size() + spiffe_id.size();
}

source_position service_config::position_of(const std::string& key_name) const {
  if (auto it = positions.find(key_name); it != positions.end()) return it->second;
  // The loader files the [[service]] header itself under the empty key.
  if (auto it = positions.find(""); it != positions.end()) return it->second;
  return {};
}

namespace {
constexpr std::string_view tlv_names[] = {"alpn",   "authority", "ssl",    "cert_sha256", "spiffe_id",
                                          "subject", "issuer",   "serial", "cert_der"};
}  // namespace

std::span<const std::string_view> proxy_protocol_tlv_names() { return tlv_names; }

std::vector<std::string> default_proxy_protocol_tlvs() {
  std::vector<std::string> names;
  for (const auto name : tlv_names)
    if (name != "cert_der") names.emplace_back(name);
  return names;
}

}  // namespace mtlsd
