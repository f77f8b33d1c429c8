#pragma once
// Owner: config module (private). The [service.upstream] / [defaults.upstream]
// sub-table (TLS towards tls:// backends, docs/backends.md) as written in one
// table, and its merge into service_config::upstream.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/files.hpp"
#include "config/toml_reader.hpp"
#include "mtlsd/config/config.hpp"

namespace mtlsd::config_detail {

struct upstream_fields {
  source_position block;
  // Every known key present -> its value's position (valid or not).
  std::map<std::string, source_position> written;

  std::optional<path_setting> cert, key, key_password_file, keystore, keystore_password_file, truststore,
      truststore_password_file;
  std::optional<std::string> keystore_password_env, keystore_alias, truststore_password_env, server_name;
  std::optional<bool> verify_hostname;
  std::optional<tls_version> min_tls_version;
  std::optional<std::vector<std::string>> alpn;

  bool wrote(const std::string& name) const { return written.contains(name); }
};

// `key` is the table's key path ("service[a].upstream"). Nullopt only when
// the node is not a table; invalid values are reported and left out.
std::optional<upstream_fields> read_upstream_fields(diagnostics& diag, const toml::node& node, const std::string& key,
                                                    const std::filesystem::path& base_dir);

// An ALPN protocol list (accept-side `alpn` and upstream.alpn): non-empty
// names of at most 255 bytes (RFC 7301 §3.1), no duplicates.
std::optional<std::vector<std::string>> read_alpn_list(diagnostics& diag, const toml::node& node,
                                                       const std::string& key);

// Checks that every file `fields` names exists ([defaults.upstream] files are
// checked once, where written).
void check_upstream_files(diagnostics& diag, const upstream_fields& fields, const std::string& key);

// Merges the service's own upstream table over [defaults.upstream] key by
// key into `svc.upstream`, records positions as "upstream.<key>", checks the
// files written in `own` and the rules tying keys together. `tls_connect`:
// the service's connect is tls://; otherwise an own table is an error and an
// inherited one is not applied.
void merge_upstream(diagnostics& diag, const std::optional<upstream_fields>& own,
                    const std::optional<upstream_fields>& defaults, bool tls_connect, const std::string& prefix,
                    service_config& svc);

}  // namespace mtlsd::config_detail
