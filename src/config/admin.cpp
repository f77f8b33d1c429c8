// Owner: config module. [admin]: `listen` plus a subset of the per-service
// TLS keys, read with the same code as a [[service]] block so that the admin
// endpoint's certificates and whitelist mean exactly what they mean there.
#include "config/admin.hpp"

#include <algorithm>
#include <iterator>

#include "config/files.hpp"
#include "config/service_fields.hpp"
#include "config/store_fields.hpp"
#include "config/text_util.hpp"

namespace mtlsd::config_detail {
namespace {

// handshake_timeout is not among them: the endpoint's read timeout covers
// the handshake.
constexpr std::string_view admin_tls_keys[] = {"cert",          "key",          "key_password_file",
                                               "truststore",    "verify_client", "verify_depth",
                                               "min_tls_version", "allow", "require_client_auth_eku",
                                               "keystore", "keystore_password_file", "keystore_password_env",
                                               "keystore_alias", "truststore_password_file",
                                               "truststore_password_env", "allow_insecure_key_permissions"};

std::optional<endpoint_address> read_listen(diagnostics& diag, const toml::node& node, const std::string& key) {
  auto text = read_string(diag, node, key);
  if (!text) return std::nullopt;
  // Written as host:port; the scheme follows from whether a cert is set.
  if (text->find("://") != std::string::npos) {
    diag.report(diag.at(node), key,
                "write host:port without a scheme (e.g. \"127.0.0.1:9901\"); TLS is on when [admin] cert is set");
    return std::nullopt;
  }
  std::string error;
  auto address = parse_endpoint("tcp://" + *text, error);
  if (!address) {
    diag.report(diag.at(node), key, "invalid address " + quote(*text) + ": " + error);
    return std::nullopt;
  }
  return address;
}

}  // namespace

admin_config read_admin(diagnostics& diag, const toml::table& table, const std::filesystem::path& base_dir) {
  admin_config admin;
  service_config& tls = admin.tls;
  tls.name = "admin";
  tls.key_path_prefix = "admin";
  tls.positions[""] = diag.at(table);

  std::vector<std::string_view> known(std::begin(admin_tls_keys), std::end(admin_tls_keys));
  known.insert(known.begin(), "listen");
  // Read in place (not copied into a new table) so that errors keep their line.
  std::vector<std::string> not_tls;
  bool listen_written = false;
  for (auto&& [toml_key, node] : table) {
    const std::string name(toml_key.str());
    if (name == "listen") {
      listen_written = true;
      admin.listen = read_listen(diag, node, "admin.listen");
      not_tls.push_back(name);
    } else if (std::find(known.begin(), known.end(), name) == known.end()) {
      report_unknown_key(diag, toml_key, node, "admin." + name, known);
      not_tls.push_back(name);
    }
  }
  const service_fields fields = read_service_fields(diag, table, "admin", block_kind::service, base_dir, not_tls);
  for (const auto& [key, where] : fields.written) tls.positions[key] = where;
  for (const auto& [key, where] : fields.allow_positions) tls.positions[key] = where;

  const auto path_of = [&](const std::optional<path_setting>& setting, const std::string& key, file_kind kind,
                           std::filesystem::path& target) {
    if (!setting) return;
    target = setting->resolved;
    check_file(diag, *setting, kind, "admin." + key);
  };
  path_of(fields.cert, "cert", file_kind::regular_file, tls.cert);
  path_of(fields.key, "key", file_kind::regular_file, tls.key);
  path_of(fields.key_password_file, "key_password_file", file_kind::regular_file, tls.key_password_file);
  path_of(fields.truststore, "truststore", file_kind::file_or_directory, tls.truststore);
  path_of(fields.keystore, "keystore", file_kind::regular_file, tls.keystore);
  path_of(fields.keystore_password_file, "keystore_password_file", file_kind::regular_file,
          tls.keystore_password_file);
  path_of(fields.truststore_password_file, "truststore_password_file", file_kind::regular_file,
          tls.truststore_password_file);
  tls.keystore_password_env = fields.keystore_password_env.value_or("");
  tls.keystore_alias = fields.keystore_alias.value_or("");
  tls.truststore_password_env = fields.truststore_password_env.value_or("");
  if (fields.verify_depth) tls.verify_depth = *fields.verify_depth;
  if (fields.min_tls_version) tls.min_tls_version = *fields.min_tls_version;
  tls.allow = fields.allow;
  if (fields.require_client_auth_eku) tls.require_client_auth_eku = *fields.require_client_auth_eku;
  if (fields.allow_insecure_key_permissions)
    tls.allow_insecure_key_permissions = *fields.allow_insecure_key_permissions;
  // Unlike a service, the admin port checks client certificates only when
  // given a truststore: plain operator access must stay a one-line setting.
  tls.verify_client = fields.verify_client.value_or(fields.truststore ? verify_client_mode::require
                                                                      : verify_client_mode::none);

  if (!admin.listen) {
    if (!listen_written && !fields.written.empty())
      diag.report(diag.at(table), "admin.listen", "required key missing: the [admin] settings need an address");
    return admin;
  }
  const bool from_keystore = fields.wrote("keystore");
  const bool wants_tls = fields.wrote("cert") || fields.wrote("key") || from_keystore;
  if (!wants_tls) {
    for (const auto& [key, where] : fields.written)
      diag.report(where, "admin." + key, "TLS option on a plain admin endpoint; set admin.cert and admin.key too");
    return admin;
  }
  admin.listen->scheme = transport::tls;
  tls.accept = *admin.listen;
  tls.connect = {*admin.listen};  // unused: the admin endpoint proxies nothing
  if (!fields.wrote("cert") && !from_keystore)
    diag.report(tls.positions[""], "admin.cert", "required key missing: TLS needs a certificate");
  if (!fields.wrote("key") && !from_keystore)
    diag.report(tls.positions[""], "admin.key", "required key missing: TLS needs the certificate's key");
  check_store_requirements(diag, tls, fields, "admin");
  if (tls.verify_client != verify_client_mode::none && !fields.wrote("truststore") && fields.verify_client)
    diag.report(fields.written.at("verify_client"), "admin.truststore",
                "required key missing: client certificates are verified against it unless verify_client = \"none\"");
  if (tls.verify_client == verify_client_mode::none && tls.allow)
    diag.report(fields.written.at("allow"), "admin.allow",
                "has no effect with verify_client = \"none\" (no client certificate is requested)");
  return admin;
}

}  // namespace mtlsd::config_detail
