// Owner: config module. Reading the keys of one [[service]] or [defaults] table.
#include "config/service_fields.hpp"

#include <algorithm>
#include <limits>

#include "config/server_names.hpp"
#include "mtlsd/fetch/http_client.hpp"
#include "config/store_fields.hpp"
#include "config/text_util.hpp"
#include "config/whitelist.hpp"
#include "mtlsd/fetch/http_client.hpp"

namespace mtlsd::config_detail {
namespace {

constexpr std::string_view all_service_keys[] = {
    "name", "accept", "connect", "verify_client", "cert", "key", "key_password_file", "truststore",
    "verify_depth", "min_tls_version", "handshake_timeout", "idle_timeout", "connect_timeout",
    "max_connections", "allow", "session_ticket_key_file", "session_cache_size", "server_names",
    "require_client_auth_eku",
    "keystore", "keystore_password_file", "keystore_password_env", "keystore_alias",
    "truststore_password_file", "truststore_password_env",
    "crl", "crl_stale",
    "ocsp_staple_file", "reevaluate_live", "ocsp", "ocsp_url", "ocsp_timeout",
    "crl_url", "crl_from_cdp",
    "proxy_protocol", "proxy_protocol_tlvs", "accept_proxy_protocol", "proxy_protocol_timeout",
    "balance", "max_fails", "fail_window", "fail_timeout", "connect_retries", "health_check_interval",
    "resolve_interval",
    "upstream", "alpn", "allow_insecure_key_permissions"};

constexpr std::string_view tls_keys[] = {
    "verify_client", "cert", "key", "key_password_file", "truststore",
    "verify_depth", "min_tls_version", "handshake_timeout", "allow", "session_ticket_key_file", "session_cache_size",
    "server_names", "require_client_auth_eku",
    "keystore", "keystore_password_file", "keystore_password_env", "keystore_alias",
    "truststore_password_file", "truststore_password_env",
    "crl", "crl_stale", "ocsp_staple_file", "reevaluate_live", "ocsp", "ocsp_url", "ocsp_timeout",
    "crl_url", "crl_from_cdp",
    "alpn"};

constexpr std::string_view server_only_keys[] = {
    "log_level", "log_format", "max_connections", "drain_timeout", "workers", "watch", "reload_interval",
    "pid_file", "user", "group", "expiry_warning", "crl_cache_dir", "crl_refresh_interval", "core_dumps", "sandbox"};

// Keys that identify one service and so cannot have a shared default.
constexpr std::string_view per_service_only[] = {"name", "accept", "connect", "server_names"};

constexpr enum_name<verify_client_mode> verify_client_names[] = {
    {"none", verify_client_mode::none}, {"want", verify_client_mode::want}, {"require", verify_client_mode::require}};

constexpr enum_name<tls_version> tls_version_names[] = {{"1.2", tls_version::tls1_2}, {"1.3", tls_version::tls1_3}};

constexpr enum_name<ocsp_mode> ocsp_names[] = {
    {"off", ocsp_mode::off}, {"soft", ocsp_mode::soft}, {"hard", ocsp_mode::hard}};

constexpr enum_name<balance_mode> balance_names[] = {{"round_robin", balance_mode::round_robin},
                                                     {"least_connections", balance_mode::least_connections},
                                                     {"random_two", balance_mode::random_two}};

// OCSP requests go out over plain HTTP (RFC 6960 appendix A); the answer is signed.
std::optional<std::string> read_ocsp_url(diagnostics& diag, const toml::node& node, const std::string& key) {
  auto text = read_string(diag, node, key);
  if (!text) return std::nullopt;
  std::string error;
  if (!fetch::parse_http_url(*text, error)) {
    diag.report(diag.at(node), key, "invalid OCSP responder URL " + quote(*text) + ": " + error);
    return std::nullopt;
  }
  return text;
}

constexpr enum_name<crl_stale_mode> crl_stale_names[] = {{"reject", crl_stale_mode::reject},
                                                         {"warn", crl_stale_mode::warn}};

// http:// URLs only: CRLs are signed, and RFC 5280 distribution points are
// plain HTTP; a URL the client could not fetch must fail here, not at 3 a.m.
std::optional<std::vector<std::string>> read_url_list(diagnostics& diag, const toml::node& node,
                                                      const std::string& key) {
  std::vector<const toml::node*> elements;
  if (node.is_string()) {
    elements.push_back(&node);
  } else if (const auto* array = node.as_array()) {
    for (const toml::node& element : *array) elements.push_back(&element);
  } else {
    diag.report(diag.at(node), key, "expected a URL or an array of URLs, got " + std::string(type_name(node)));
    return std::nullopt;
  }
  std::vector<std::string> urls;
  for (const toml::node* element : elements) {
    auto text = read_string(diag, *element, key);
    if (!text) continue;
    std::string error;
    if (!fetch::parse_http_url(*text, error)) {
      diag.report(diag.at(*element), key, "invalid CRL URL " + quote(*text) + ": " + error);
      continue;
    }
    if (std::find(urls.begin(), urls.end(), *text) == urls.end()) urls.push_back(*text);
  }
  return urls;
}

std::optional<endpoint_address> read_address(diagnostics& diag, const toml::node& node, const std::string& key) {
  auto text = read_string(diag, node, key);
  if (!text) return std::nullopt;
  std::string error;
  auto address = parse_endpoint(*text, error);
  if (!address) {
    diag.report(diag.at(node), key, "invalid address " + quote(*text) + ": " + error);
    return std::nullopt;
  }
  return address;
}

std::optional<endpoint_address> read_backend(diagnostics& diag, const toml::node& node, const std::string& key) {
  auto address = read_address(diag, node, key);
  if (!address) return std::nullopt;
  if (address->port == 0) {
    diag.report(diag.at(node), key, "port must not be 0 for a backend");
    return std::nullopt;
  }
  return address;
}

// One address or a non-empty array of them. Plain and TLS backends are not
// mixed: what the client gets must not depend on which backend it drew.
std::optional<std::vector<endpoint_address>> read_connect(diagnostics& diag, const toml::node& node,
                                                          const std::string& key) {
  const toml::array* list = node.as_array();
  if (list == nullptr) {
    auto one = read_backend(diag, node, key);
    if (!one) return std::nullopt;
    return std::vector<endpoint_address>{*one};
  }
  if (list->empty()) {
    diag.report(diag.at(node), key, "must name at least one backend");
    return std::nullopt;
  }
  std::vector<endpoint_address> out;
  bool ok = true;
  for (const toml::node& item : *list) {
    auto one = read_backend(diag, item, key);
    if (!one) {
      ok = false;
      continue;
    }
    if (!out.empty() && one->scheme != out.front().scheme) {
      diag.report(diag.at(item), key, "all backends must use the same scheme (" +
                                          std::string(out.front().scheme == transport::tls ? "tls://" : "tcp://") +
                                          " like the first)");
      ok = false;
      continue;
    }
    if (std::find(out.begin(), out.end(), *one) != out.end()) {
      diag.report(diag.at(item), key, "backend " + quote(one->to_string()) + " is listed twice");
      ok = false;
      continue;
    }
    out.push_back(*one);
  }
  if (!ok) return std::nullopt;
  return out;
}

constexpr enum_name<proxy_protocol_version> proxy_protocol_names[] = {
    {"off", proxy_protocol_version::off}, {"v1", proxy_protocol_version::v1}, {"v2", proxy_protocol_version::v2}};

// Names from proxy_protocol_tlv_names(), each once; an unknown one is an
// error listing the valid ones (a typo would silently drop a TLV otherwise).
std::optional<std::vector<std::string>> read_tlv_names(diagnostics& diag, const toml::node& node,
                                                       const std::string& key) {
  auto entries = read_string_array(diag, node, key);
  if (!entries) return std::nullopt;
  const auto known = proxy_protocol_tlv_names();
  std::vector<std::string> names;
  bool ok = true;
  for (const auto& entry : *entries) {
    if (std::find(known.begin(), known.end(), entry.value) == known.end()) {
      diag.report(entry.where, key, enum_choices_message(known, entry.value));
      ok = false;
    } else if (std::find(names.begin(), names.end(), entry.value) != names.end()) {
      diag.report(entry.where, key, quote(entry.value) + " is listed twice");
      ok = false;
    } else {
      names.push_back(entry.value);
    }
  }
  if (!ok) return std::nullopt;
  return names;
}

}  // namespace

std::span<const std::string_view> service_keys() { return all_service_keys; }
std::span<const std::string_view> tls_only_keys() { return tls_keys; }
std::span<const std::string_view> server_keys() { return server_only_keys; }

service_fields read_service_fields(diagnostics& diag, const toml::table& table, const std::string& prefix,
                                   block_kind kind, const std::filesystem::path& base_dir,
                                   std::span<const std::string> skip) {
  service_fields out;
  out.block = diag.at(table);
  constexpr std::int64_t int_max = std::numeric_limits<std::int64_t>::max();

  for (auto&& [toml_key, node] : table) {
    const std::string name(toml_key.str());
    if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    const std::string key = prefix + "." + name;
    const bool known = std::find(std::begin(all_service_keys), std::end(all_service_keys), name) !=
                       std::end(all_service_keys);
    if (!known) {
      report_unknown_key(diag, toml_key, node, key, all_service_keys, {{server_only_keys, "[server]"}});
      continue;
    }
    if (kind == block_kind::defaults &&
        std::find(std::begin(per_service_only), std::end(per_service_only), name) != std::end(per_service_only)) {
      diag.report(diag.at(toml_key.source()), key,
                  quote(name) + " cannot be set in [defaults]; set it in each [[service]]");
      continue;
    }
    if (name == "name") continue;  // read by the loader
    out.written[name] = diag.at(node);

    if (name == "accept") {
      out.accept = read_address(diag, node, key);
    } else if (name == "connect") {
      out.connect = read_connect(diag, node, key);
    } else if (name == "verify_client") {
      out.verify_client = read_enum(diag, node, key, verify_client_names);
    } else if (name == "cert") {
      out.cert = read_path(diag, node, key, base_dir);
    } else if (name == "key") {
      out.key = read_path(diag, node, key, base_dir);
    } else if (name == "key_password_file") {
      out.key_password_file = read_path(diag, node, key, base_dir);
    } else if (name == "truststore") {
      out.truststore = read_path(diag, node, key, base_dir);
    } else if (name == "session_ticket_key_file") {
      out.session_ticket_key_file = read_path(diag, node, key, base_dir);
    } else if (name == "session_cache_size") {
      if (auto v = read_integer(diag, node, key, 0, 1000000)) out.session_cache_size = static_cast<std::size_t>(*v);
    } else if (name == "verify_depth") {
      if (auto v = read_integer(diag, node, key, 0, 32)) out.verify_depth = static_cast<int>(*v);
    } else if (name == "min_tls_version") {
      out.min_tls_version = read_enum(diag, node, key, tls_version_names);
    } else if (name == "handshake_timeout") {
      out.handshake_timeout = read_duration(diag, node, key, false);
    } else if (name == "idle_timeout") {
      out.idle_timeout = read_duration(diag, node, key, false);
    } else if (name == "connect_timeout") {
      out.connect_timeout = read_duration(diag, node, key, false);
    } else if (name == "max_connections") {
      if (auto v = read_integer(diag, node, key, 1, int_max)) out.max_connections = static_cast<std::size_t>(*v);
    } else if (name == "server_names") {
      out.server_names = read_server_names(diag, node, key);
    } else if (name == "allow") {
      out.allow = read_allow_rules(diag, node, key, out.allow_positions);
    } else if (name == "allow_insecure_key_permissions") {
      out.allow_insecure_key_permissions = read_bool(diag, node, key);
    } else if (name == "require_client_auth_eku") {
      out.require_client_auth_eku = read_bool(diag, node, key);
    } else if (name == "crl") {
      out.crl = read_path_list(diag, node, key, base_dir);
    } else if (name == "crl_stale") {
      out.crl_stale = read_enum(diag, node, key, crl_stale_names);
    } else if (name == "ocsp_staple_file") {
      out.ocsp_staple_file = read_path(diag, node, key, base_dir);
    } else if (name == "reevaluate_live") {
      out.reevaluate_live = read_bool(diag, node, key);
    } else if (name == "ocsp") {
      out.ocsp = read_enum(diag, node, key, ocsp_names);
    } else if (name == "ocsp_url") {
      out.ocsp_url = read_ocsp_url(diag, node, key);
    } else if (name == "ocsp_timeout") {
      out.ocsp_timeout = read_duration(diag, node, key, false);
    } else if (name == "crl_url") {
      out.crl_url = read_url_list(diag, node, key);
    } else if (name == "crl_from_cdp") {
      out.crl_from_cdp = read_bool(diag, node, key);
    } else if (name == "proxy_protocol") {
      out.proxy_protocol = read_enum(diag, node, key, proxy_protocol_names);
    } else if (name == "proxy_protocol_tlvs") {
      out.proxy_protocol_tlvs = read_tlv_names(diag, node, key);
    } else if (name == "accept_proxy_protocol") {
      out.accept_proxy_protocol = read_bool(diag, node, key);
    } else if (name == "proxy_protocol_timeout") {
      out.proxy_protocol_timeout = read_duration(diag, node, key, false);
    } else if (name == "balance") {
      out.balance = read_enum(diag, node, key, balance_names);
    } else if (name == "max_fails") {
      if (auto v = read_integer(diag, node, key, 1, 1000000)) out.max_fails = static_cast<std::size_t>(*v);
    } else if (name == "fail_window") {
      out.fail_window = read_duration(diag, node, key, false);
    } else if (name == "fail_timeout") {
      out.fail_timeout = read_duration(diag, node, key, false);
    } else if (name == "connect_retries") {
      if (auto v = read_integer(diag, node, key, 0, 100)) out.connect_retries = static_cast<std::size_t>(*v);
    } else if (name == "health_check_interval") {
      out.health_check_interval = read_duration(diag, node, key, false);
    } else if (name == "resolve_interval") {
      out.resolve_interval = read_duration(diag, node, key, false);
    } else if (name == "upstream") {
      out.upstream = read_upstream_fields(diag, node, key, base_dir);
    } else if (name == "alpn") {
      out.alpn = read_alpn_list(diag, node, key);
    } else {
      read_store_field(diag, node, name, key, base_dir, out);
    }
  }
  check_store_alternatives(diag, out, prefix);
  return out;
}

}  // namespace mtlsd::config_detail
