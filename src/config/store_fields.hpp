#pragma once
// Owner: config module (private). The keystore and store-password keys
// (docs/keystores.md): reading them, and the rules that tie them together —
// a certificate comes from `keystore` or from `cert`/`key`, never both; a
// password from a file or from the environment, never both; a keystore
// needs its password.

#include <filesystem>
#include <set>
#include <string>

#include "config/service_fields.hpp"

namespace mtlsd::config_detail {

// Reads keystore, keystore_password_file, keystore_password_env,
// keystore_alias, truststore_password_file or truststore_password_env.
void read_store_field(diagnostics& diag, const toml::node& node, const std::string& name, const std::string& key,
                      const std::filesystem::path& base_dir, service_fields& out);

// Within one table: keystore together with cert/key, and both sources of one password.
void check_store_alternatives(diagnostics& diag, const service_fields& fields, const std::string& prefix);

// Keys from [defaults] that a service's own choice of the alternative
// replaces: its own `keystore` replaces inherited cert/key, its own
// `cert` or `key` an inherited keystore, its own password file an inherited
// password variable (and the other way round).
std::set<std::string> replaced_defaults(const service_fields& own);

// On the merged TLS settings (`svc.positions` holds every key that applies):
// a keystore needs a password; keystore and truststore password keys
// written in `own` need their store.
void check_store_requirements(diagnostics& diag, const service_config& svc, const service_fields& own,
                              const std::string& prefix);

}  // namespace mtlsd::config_detail
