// Owner: config module. The [service.upstream] table (see upstream_fields.hpp).
#include "config/upstream_fields.hpp"

#include <algorithm>
#include <string_view>

#include "config/text_util.hpp"

namespace mtlsd::config_detail {
namespace {

constexpr std::string_view upstream_keys[] = {
    "cert", "key", "key_password_file", "keystore", "keystore_password_file", "keystore_password_env",
    "keystore_alias", "truststore", "truststore_password_file", "truststore_password_env", "server_name",
    "verify_hostname", "min_tls_version", "alpn"};

constexpr enum_name<tls_version> version_names[] = {{"1.2", tls_version::tls1_2}, {"1.3", tls_version::tls1_3}};

bool valid_variable_name(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// A host name or an IP literal: what goes into SNI and the certificate check.
bool valid_server_name(const std::string& name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == ':';
  });
}

void read_one(diagnostics& diag, const toml::node& node, const std::string& name, const std::string& key,
              const std::filesystem::path& base_dir, upstream_fields& out) {
  if (name == "cert") {
    out.cert = read_path(diag, node, key, base_dir);
  } else if (name == "key") {
    out.key = read_path(diag, node, key, base_dir);
  } else if (name == "key_password_file") {
    out.key_password_file = read_path(diag, node, key, base_dir);
  } else if (name == "keystore") {
    out.keystore = read_path(diag, node, key, base_dir);
  } else if (name == "keystore_password_file") {
    out.keystore_password_file = read_path(diag, node, key, base_dir);
  } else if (name == "truststore") {
    out.truststore = read_path(diag, node, key, base_dir);
  } else if (name == "truststore_password_file") {
    out.truststore_password_file = read_path(diag, node, key, base_dir);
  } else if (name == "keystore_password_env" || name == "truststore_password_env") {
    auto text = read_string(diag, node, key);
    if (!text) return;
    if (!valid_variable_name(*text)) {
      diag.report(diag.at(node), key,
                  "invalid environment variable name " + quote(*text) +
                      ": use letters, digits and _, not starting with a digit (the name, not the password)");
      return;
    }
    (name == "keystore_password_env" ? out.keystore_password_env : out.truststore_password_env) = *text;
  } else if (name == "keystore_alias") {
    auto alias = read_string(diag, node, key);
    if (alias && alias->empty())
      diag.report(diag.at(node), key, "empty alias; remove the key to use the keystore's only private-key entry");
    else
      out.keystore_alias = alias;
  } else if (name == "server_name") {
    auto text = read_string(diag, node, key);
    if (!text) return;
    if (!valid_server_name(*text)) {
      diag.report(diag.at(node), key, "invalid server name " + quote(*text) + ": expected a host name or IP address");
      return;
    }
    out.server_name = ascii_lower(*text);
  } else if (name == "verify_hostname") {
    out.verify_hostname = read_bool(diag, node, key);
  } else if (name == "min_tls_version") {
    out.min_tls_version = read_enum(diag, node, key, version_names);
  } else if (name == "alpn") {
    out.alpn = read_alpn_list(diag, node, key);
  }
}

// Rules within one table: alternatives that must not be written together.
void check_alternatives(diagnostics& diag, const upstream_fields& f, const std::string& key) {
  if (f.wrote("keystore"))
    for (const char* other : {"cert", "key", "key_password_file"})
      if (f.wrote(other))
        diag.report(f.written.at("keystore"), key + ".keystore",
                    std::string("keystore and ") + other + " are both set (" + other + " at line " +
                        std::to_string(f.written.at(other).line) +
                        "); the client certificate comes either from keystore or from cert and key");
  for (const std::string store : {"keystore", "truststore"}) {
    const std::string file = store + "_password_file", env = store + "_password_env";
    if (f.wrote(file) && f.wrote(env))
      diag.report(f.written.at(env), key + "." + env,
                  file + " and " + env + " are both set (" + file + " at line " +
                      std::to_string(f.written.at(file).line) + "); set one of them");
  }
}

}  // namespace

std::optional<std::vector<std::string>> read_alpn_list(diagnostics& diag, const toml::node& node,
                                                       const std::string& key) {
  auto entries = read_string_array(diag, node, key);
  if (!entries) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& entry : *entries) {
    if (entry.value.empty() || entry.value.size() > 255) {
      diag.report(entry.where, key, "invalid ALPN protocol name " + quote(entry.value) + ": 1 to 255 bytes");
      continue;
    }
    if (std::find(out.begin(), out.end(), entry.value) != out.end()) {
      diag.report(entry.where, key, "ALPN protocol " + quote(entry.value) + " is listed twice");
      continue;
    }
    out.push_back(entry.value);
  }
  return out;
}

std::optional<upstream_fields> read_upstream_fields(diagnostics& diag, const toml::node& node, const std::string& key,
                                                    const std::filesystem::path& base_dir) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    diag.report(diag.at(node), key, "expected a table ([service.upstream]), got " + std::string(type_name(node)));
    return std::nullopt;
  }
  upstream_fields out;
  out.block = diag.at(node);
  for (auto&& [toml_key, value] : *table) {
    const std::string name(toml_key.str());
    const std::string field_key = key + "." + name;
    if (std::find(std::begin(upstream_keys), std::end(upstream_keys), name) == std::end(upstream_keys)) {
      report_unknown_key(diag, toml_key, value, field_key, upstream_keys);
      continue;
    }
    out.written[name] = diag.at(value);
    read_one(diag, value, name, field_key, base_dir, out);
  }
  check_alternatives(diag, out, key);
  return out;
}

void check_upstream_files(diagnostics& diag, const upstream_fields& fields, const std::string& key) {
  for (const auto& [setting, name] :
       {std::pair{&fields.cert, "cert"}, std::pair{&fields.key, "key"},
        std::pair{&fields.key_password_file, "key_password_file"}, std::pair{&fields.keystore, "keystore"},
        std::pair{&fields.keystore_password_file, "keystore_password_file"},
        std::pair{&fields.truststore, "truststore"},
        std::pair{&fields.truststore_password_file, "truststore_password_file"}}) {
    if (*setting)
      check_file(diag, **setting,
                 std::string_view(name) == "truststore" ? file_kind::file_or_directory : file_kind::regular_file,
                 key + "." + name);
  }
}

void merge_upstream(diagnostics& diag, const std::optional<upstream_fields>& own,
                    const std::optional<upstream_fields>& defaults, bool tls_connect, const std::string& prefix,
                    service_config& svc) {
  const std::string key = prefix + ".upstream";
  if (!tls_connect) {
    // Inherited backend TLS settings are simply not for a plain backend;
    // written in the service itself, they show a misunderstanding.
    if (own) diag.report(own->block, key, "[service.upstream] needs a tls:// connect; use tls:// or remove the table");
    return;
  }
  const upstream_fields empty;
  const upstream_fields& mine = own ? *own : empty;
  const upstream_fields& base = defaults ? *defaults : empty;
  // The service's own choice of one alternative replaces the inherited other.
  std::vector<std::string> replaced;
  if (mine.wrote("keystore"))
    replaced = {"cert", "key", "key_password_file"};
  else if (mine.wrote("cert") || mine.wrote("key"))
    replaced = {"keystore", "keystore_password_file", "keystore_password_env", "keystore_alias"};
  for (const std::string store : {"keystore", "truststore"}) {
    if (mine.wrote(store + "_password_file")) replaced.push_back(store + "_password_env");
    if (mine.wrote(store + "_password_env")) replaced.push_back(store + "_password_file");
  }
  auto source_of = [&](const std::string& name) -> const upstream_fields* {
    if (mine.wrote(name)) return &mine;
    if (base.wrote(name) && std::find(replaced.begin(), replaced.end(), name) == replaced.end()) return &base;
    return nullptr;
  };
  auto& up = svc.upstream;
  auto apply_path = [&](const std::string& name, std::optional<path_setting> upstream_fields::*member,
                        std::filesystem::path& target) {
    const upstream_fields* from = source_of(name);
    if (from == nullptr) return;
    svc.positions["upstream." + name] = from->written.at(name);
    if (!(from->*member)) return;
    target = (from->*member)->resolved;
    if (from == &mine)
      check_file(diag, *(from->*member), name == "truststore" ? file_kind::file_or_directory : file_kind::regular_file,
                 key + "." + name);
  };
  auto apply = [&](const std::string& name, const auto& member, auto& target) {
    const upstream_fields* from = source_of(name);
    if (from == nullptr) return;
    svc.positions["upstream." + name] = from->written.at(name);
    if (from->*member) target = *(from->*member);
  };
  apply_path("cert", &upstream_fields::cert, up.cert);
  apply_path("key", &upstream_fields::key, up.key);
  apply_path("key_password_file", &upstream_fields::key_password_file, up.key_password_file);
  apply_path("keystore", &upstream_fields::keystore, up.keystore);
  apply_path("keystore_password_file", &upstream_fields::keystore_password_file, up.keystore_password_file);
  apply("keystore_password_env", &upstream_fields::keystore_password_env, up.keystore_password_env);
  apply("keystore_alias", &upstream_fields::keystore_alias, up.keystore_alias);
  apply_path("truststore", &upstream_fields::truststore, up.truststore);
  apply_path("truststore_password_file", &upstream_fields::truststore_password_file, up.truststore_password_file);
  apply("truststore_password_env", &upstream_fields::truststore_password_env, up.truststore_password_env);
  apply("server_name", &upstream_fields::server_name, up.server_name);
  apply("verify_hostname", &upstream_fields::verify_hostname, up.verify_hostname);
  apply("min_tls_version", &upstream_fields::min_tls_version, up.min_tls_version);
  apply("alpn", &upstream_fields::alpn, up.alpn);

  const auto applies = [&](const char* name) { return svc.positions.contains(std::string("upstream.") + name); };
  const source_position where = own ? own->block : svc.position_of("");
  if (applies("cert") != applies("key")) {
    const char* missing = applies("cert") ? "key" : "cert";
    diag.report(where, key + "." + missing,
                std::string("required key missing: a client certificate needs both cert and key (") +
                    (applies("cert") ? "cert" : "key") + " is set)");
  }
  if (applies("key_password_file") && !applies("key"))
    diag.report(svc.positions.at("upstream.key_password_file"), key + ".key_password_file",
                "has no effect without key");
  if (applies("keystore") && !applies("keystore_password_file") && !applies("keystore_password_env"))
    diag.report(svc.positions.at("upstream.keystore"), key + ".keystore_password_file",
                "required key missing: a keystore needs keystore_password_file or keystore_password_env");
  for (const char* name : {"keystore_password_file", "keystore_password_env", "keystore_alias"})
    if (mine.wrote(name) && !applies("keystore"))
      diag.report(mine.written.at(name), key + "." + name, "has no effect without keystore");
  for (const char* name : {"truststore_password_file", "truststore_password_env"})
    if (mine.wrote(name) && !applies("truststore"))
      diag.report(mine.written.at(name), key + "." + name, "has no effect without truststore");
}

}  // namespace mtlsd::config_detail
