#pragma once
// Owner: config module (private). The per-service keys as read from one
// table — a [[service]] block or [defaults] — before the two are merged.

#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/files.hpp"
#include "config/toml_reader.hpp"
#include "config/upstream_fields.hpp"
#include "mtlsd/config/config.hpp"

namespace mtlsd::config_detail {

enum class block_kind { defaults, service };

struct service_fields {
  source_position block;
  // Every known key present in the table -> its value's position, whether or
  // not the value was valid (an invalid value is reported once, and must not
  // also count as missing or fall back to [defaults]).
  std::map<std::string, source_position> written;

  std::optional<endpoint_address> accept;
  std::optional<std::vector<endpoint_address>> connect;
  std::optional<verify_client_mode> verify_client;
  std::optional<path_setting> cert, key, key_password_file, truststore, session_ticket_key_file;
  std::optional<int> verify_depth;
  std::optional<std::size_t> session_cache_size;
  std::optional<tls_version> min_tls_version;
  std::optional<duration> handshake_timeout, idle_timeout, connect_timeout;
  std::optional<std::size_t> max_connections;
  std::optional<allow_rules> allow;
  std::map<std::string, source_position> allow_positions;  // "allow", "allow.cn", ...
  std::optional<std::vector<std::string>> server_names;
  std::optional<bool> require_client_auth_eku;
  std::optional<bool> allow_insecure_key_permissions;
  std::optional<path_setting> keystore, keystore_password_file, truststore_password_file;
  std::optional<std::string> keystore_password_env, keystore_alias, truststore_password_env;
  std::optional<std::vector<path_setting>> crl;
  std::optional<crl_stale_mode> crl_stale;
  std::optional<path_setting> ocsp_staple_file;
  std::optional<bool> reevaluate_live;
  std::optional<ocsp_mode> ocsp;
  std::optional<std::string> ocsp_url;
  std::optional<duration> ocsp_timeout;
  std::optional<std::vector<std::string>> crl_url;
  std::optional<bool> crl_from_cdp;
  std::optional<proxy_protocol_version> proxy_protocol;
  std::optional<std::vector<std::string>> proxy_protocol_tlvs;
  std::optional<bool> accept_proxy_protocol;
  std::optional<duration> proxy_protocol_timeout;
  std::optional<balance_mode> balance;
  std::optional<std::size_t> max_fails, connect_retries;
  std::optional<duration> fail_window, fail_timeout, health_check_interval, resolve_interval;
  std::optional<upstream_fields> upstream;       // [service.upstream] (upstream_fields.hpp)
  std::optional<std::vector<std::string>> alpn;  // accept side, TLS only

  bool wrote(const std::string& name) const { return written.contains(name); }
};

// Keys of a [[service]] block, and the subset that only means something on a tls:// listener.
std::span<const std::string_view> service_keys();
std::span<const std::string_view> tls_only_keys();
std::span<const std::string_view> server_keys();

// Reads every key but "name" (which the loader reads first, to build `prefix`).
// Paths are resolved against `base_dir` but not checked for existence.
// Keys in `skip` are left alone: the caller reads or reports them (the
// [admin] table reuses this for its TLS keys).
service_fields read_service_fields(diagnostics& diag, const toml::table& table, const std::string& prefix,
                                   block_kind kind, const std::filesystem::path& base_dir,
                                   std::span<const std::string> skip = {});

}  // namespace mtlsd::config_detail
