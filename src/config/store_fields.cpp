// Owner: config module. The keystore keys (see store_fields.hpp).
#include "config/store_fields.hpp"

#include <vector>

#include "config/files.hpp"
#include "config/text_util.hpp"

namespace mtlsd::config_detail {
namespace {

bool valid_variable_name(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::optional<std::string> read_variable_name(diagnostics& diag, const toml::node& node, const std::string& key) {
  auto name = read_string(diag, node, key);
  if (!name) return std::nullopt;
  if (!valid_variable_name(*name)) {
    diag.report(diag.at(node), key,
                "invalid environment variable name " + quote(*name) +
                    ": use letters, digits and _, not starting with a digit (the name, not the password)");
    return std::nullopt;
  }
  return name;
}

void check_pair(diagnostics& diag, const service_fields& fields, const std::string& prefix, const std::string& file_key,
                const std::string& env_key) {
  if (!fields.wrote(file_key) || !fields.wrote(env_key)) return;
  diag.report(fields.written.at(env_key), prefix + "." + env_key,
              file_key + " and " + env_key + " are both set (" + file_key + " at line " +
                  std::to_string(fields.written.at(file_key).line) + "); set one of them");
}

}  // namespace

void read_store_field(diagnostics& diag, const toml::node& node, const std::string& name, const std::string& key,
                      const std::filesystem::path& base_dir, service_fields& out) {
  if (name == "keystore") {
    out.keystore = read_path(diag, node, key, base_dir);
  } else if (name == "keystore_password_file") {
    out.keystore_password_file = read_path(diag, node, key, base_dir);
  } else if (name == "truststore_password_file") {
    out.truststore_password_file = read_path(diag, node, key, base_dir);
  } else if (name == "keystore_password_env") {
    out.keystore_password_env = read_variable_name(diag, node, key);
  } else if (name == "truststore_password_env") {
    out.truststore_password_env = read_variable_name(diag, node, key);
  } else if (name == "keystore_alias") {
    auto alias = read_string(diag, node, key);
    if (alias && alias->empty()) {
      diag.report(diag.at(node), key, "empty alias; remove the key to use the keystore's only private-key entry");
    } else {
      out.keystore_alias = alias;
    }
  }
}

void check_store_alternatives(diagnostics& diag, const service_fields& fields, const std::string& prefix) {
  if (fields.wrote("keystore")) {
    std::vector<std::string> clashing;
    for (const char* key : {"cert", "key", "key_password_file"})
      if (fields.wrote(key)) clashing.push_back(key);
    if (!clashing.empty()) {
      std::string names, lines;
      for (const auto& key : clashing) {
        names += " and " + key;
        lines += (lines.empty() ? "" : ", ") + key + " at line " + std::to_string(fields.written.at(key).line);
      }
      diag.report(fields.written.at("keystore"), prefix + ".keystore",
                  "keystore" + names + " are both set (" + lines +
                      "); the certificate and key come either from keystore or from cert and key");
    }
  }
  check_pair(diag, fields, prefix, "keystore_password_file", "keystore_password_env");
  check_pair(diag, fields, prefix, "truststore_password_file", "truststore_password_env");
}

std::set<std::string> replaced_defaults(const service_fields& own) {
  std::set<std::string> replaced;
  // Both written is reported by check_store_alternatives; the keystore's
  // password is still inherited then, so that is the only error.
  if (own.wrote("keystore"))
    replaced.insert({"cert", "key", "key_password_file"});
  else if (own.wrote("cert") || own.wrote("key"))
    replaced.insert({"keystore", "keystore_password_file", "keystore_password_env", "keystore_alias"});
  for (const std::string store : {"keystore", "truststore"}) {
    const std::string file = store + "_password_file", env = store + "_password_env";
    if (own.wrote(file)) replaced.insert(env);
    if (own.wrote(env)) replaced.insert(file);
  }
  return replaced;
}

void check_store_requirements(diagnostics& diag, const service_config& svc, const service_fields& own,
                              const std::string& prefix) {
  const auto applies = [&](const char* key) { return svc.positions.contains(key); };
  if (applies("keystore") && !applies("keystore_password_file") && !applies("keystore_password_env")) {
    diag.report(svc.positions.at("keystore"), prefix + ".keystore_password_file",
                "required key missing: a keystore needs keystore_password_file or keystore_password_env (the "
                "store's password, which also protects its private key)");
  }
  for (const char* key : {"keystore_password_file", "keystore_password_env", "keystore_alias"}) {
    if (own.wrote(key) && !applies("keystore"))
      diag.report(own.written.at(key), prefix + "." + key, "has no effect without keystore");
  }
  for (const char* key : {"truststore_password_file", "truststore_password_env"}) {
    if (own.wrote(key) && !applies("truststore"))
      diag.report(own.written.at(key), prefix + "." + key, "has no effect without truststore");
  }
}

}  // namespace mtlsd::config_detail
