// Owner: config module. [[service]] blocks: names, the merge with [defaults],
// required keys, TLS options on plain listeners, duplicates.
#include "config/services.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "config/server_names.hpp"
#include "config/store_fields.hpp"
#include "config/text_util.hpp"
#include "config/upstream_fields.hpp"

namespace mtlsd::config_detail {
namespace {

bool valid_service_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

bool is_tls_only(const std::string& key) {
  const auto keys = tls_only_keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

file_kind kind_of(const std::string& key) {
  return key == "truststore" ? file_kind::file_or_directory : file_kind::regular_file;
}

// Builds one service from its own block and [defaults]. The service's own
// value wins key by key — except [service.allow], which replaces
// [defaults.allow] as a whole rather than being merged field by field: a
// whitelist that silently grew entries from elsewhere would admit clients the
// service's author never listed.
service_config merge(diagnostics& diag, const service_fields& own, const service_fields& defaults,
                     const std::string& prefix) {
  service_config svc;
  svc.positions[""] = own.block;
  const bool plain_tcp = own.accept && own.accept->scheme == transport::tcp;

  // Where `key` takes its value from, or nullptr when it keeps the built-in default.
  const std::set<std::string> replaced = replaced_defaults(own);
  auto source_of = [&](const std::string& key) -> const service_fields* {
    if (own.wrote(key)) return &own;
    if (defaults.wrote(key) && !replaced.contains(key)) return &defaults;
    return nullptr;
  };
  // Decides whether `key` applies and records its position; reports TLS
  // options written on a plain listener.
  auto applies = [&](const std::string& key) -> const service_fields* {
    const service_fields* from = source_of(key);
    if (from == nullptr) return nullptr;
    if (plain_tcp && is_tls_only(key)) {
      // Inherited TLS defaults are simply not for this listener; written
      // here, they show a misunderstanding worth stopping for.
      if (from == &own) {
        diag.report(own.written.at(key), prefix + "." + key,
                    "TLS option on a plain tcp:// listener; use tls:// in accept or remove this key");
      }
      return nullptr;
    }
    svc.positions[key] = from->written.at(key);
    return from;
  };
  auto apply_path = [&](const std::string& key, std::optional<path_setting> service_fields::*member,
                        std::filesystem::path& target) {
    const service_fields* from = applies(key);
    if (from == nullptr || !(from->*member)) return;
    target = (from->*member)->resolved;
    // [defaults] files were checked once, where they are written.
    if (from == &own) check_file(diag, *(from->*member), kind_of(key), prefix + "." + key);
  };
  auto apply = [&](const std::string& key, const auto& member, auto& target) {
    const service_fields* from = applies(key);
    if (from != nullptr && from->*member) target = *(from->*member);
  };

  if (own.accept) svc.accept = *own.accept;
  if (own.wrote("accept")) svc.positions["accept"] = own.written.at("accept");
  if (own.connect) svc.connect = *own.connect;
  if (own.wrote("connect")) svc.positions["connect"] = own.written.at("connect");
  if (const service_fields* from = applies("server_names"); from != nullptr && from->server_names) {
    svc.server_names = *from->server_names;
  }

  apply("verify_client", &service_fields::verify_client, svc.verify_client);
  apply_path("cert", &service_fields::cert, svc.cert);
  apply_path("key", &service_fields::key, svc.key);
  apply_path("key_password_file", &service_fields::key_password_file, svc.key_password_file);
  apply_path("truststore", &service_fields::truststore, svc.truststore);
  apply_path("session_ticket_key_file", &service_fields::session_ticket_key_file, svc.session_ticket_key_file);
  apply("verify_depth", &service_fields::verify_depth, svc.verify_depth);
  apply("session_cache_size", &service_fields::session_cache_size, svc.session_cache_size);
  apply("min_tls_version", &service_fields::min_tls_version, svc.min_tls_version);
  apply("handshake_timeout", &service_fields::handshake_timeout, svc.handshake_timeout);
  apply("idle_timeout", &service_fields::idle_timeout, svc.idle_timeout);
  apply("connect_timeout", &service_fields::connect_timeout, svc.connect_timeout);
  if (const service_fields* from = applies("max_connections"); from != nullptr && from->max_connections) {
    svc.max_connections = from->max_connections;
  }
  apply("require_client_auth_eku", &service_fields::require_client_auth_eku, svc.require_client_auth_eku);
  apply("allow_insecure_key_permissions", &service_fields::allow_insecure_key_permissions,
        svc.allow_insecure_key_permissions);
  if (const service_fields* from = applies("allow"); from != nullptr) {
    svc.allow = from->allow;
    for (const auto& [key, where] : from->allow_positions) svc.positions[key] = where;
  }
  apply_path("keystore", &service_fields::keystore, svc.keystore);
  apply_path("keystore_password_file", &service_fields::keystore_password_file, svc.keystore_password_file);
  apply("keystore_password_env", &service_fields::keystore_password_env, svc.keystore_password_env);
  apply("keystore_alias", &service_fields::keystore_alias, svc.keystore_alias);
  apply_path("truststore_password_file", &service_fields::truststore_password_file, svc.truststore_password_file);
  apply("truststore_password_env", &service_fields::truststore_password_env, svc.truststore_password_env);
  if (const service_fields* from = applies("crl"); from != nullptr && from->crl) {
    for (const auto& path : *from->crl) {
      svc.crl.push_back(path.resolved);
      if (from == &own) check_file(diag, path, file_kind::regular_file, prefix + ".crl");
    }
  }
  apply("crl_stale", &service_fields::crl_stale, svc.crl_stale);
  apply_path("ocsp_staple_file", &service_fields::ocsp_staple_file, svc.ocsp_staple_file);
  apply("reevaluate_live", &service_fields::reevaluate_live, svc.reevaluate_live);
  apply("ocsp", &service_fields::ocsp, svc.ocsp);
  apply("ocsp_url", &service_fields::ocsp_url, svc.ocsp_url);
  apply("ocsp_timeout", &service_fields::ocsp_timeout, svc.ocsp_timeout);
  apply("crl_url", &service_fields::crl_url, svc.crl_url);
  apply("crl_from_cdp", &service_fields::crl_from_cdp, svc.crl_from_cdp);
  apply("proxy_protocol", &service_fields::proxy_protocol, svc.proxy_protocol);
  svc.proxy_protocol_tlvs = default_proxy_protocol_tlvs();
  apply("proxy_protocol_tlvs", &service_fields::proxy_protocol_tlvs, svc.proxy_protocol_tlvs);
  apply("accept_proxy_protocol", &service_fields::accept_proxy_protocol, svc.accept_proxy_protocol);
  apply("proxy_protocol_timeout", &service_fields::proxy_protocol_timeout, svc.proxy_protocol_timeout);
  apply("balance", &service_fields::balance, svc.balance);
  apply("max_fails", &service_fields::max_fails, svc.max_fails);
  apply("fail_window", &service_fields::fail_window, svc.fail_window);
  apply("fail_timeout", &service_fields::fail_timeout, svc.fail_timeout);
  apply("connect_retries", &service_fields::connect_retries, svc.connect_retries);
  apply("health_check_interval", &service_fields::health_check_interval, svc.health_check_interval);
  apply("resolve_interval", &service_fields::resolve_interval, svc.resolve_interval);
  apply("alpn", &service_fields::alpn, svc.alpn);
  // An unreadable connect was reported already; whether it is tls:// is unknown.
  if (own.connect) {
    merge_upstream(diag, own.upstream, defaults.upstream, own.connect->front().scheme == transport::tls, prefix,
                   svc);
  }

  for (const char* key : {"accept", "connect"}) {
    if (!own.wrote(key)) diag.report(own.block, prefix + "." + key, "required key missing");
  }
  if (!own.accept || own.accept->scheme != transport::tls) return svc;

  if (!source_of("cert") && !source_of("keystore")) {
    diag.report(own.block, prefix + ".cert",
                "required key missing: a tls:// listener needs a certificate (cert and key, or keystore)");
  }
  if (!source_of("key") && !source_of("keystore")) {
    diag.report(own.block, prefix + ".key", "required key missing: a tls:// listener needs the certificate's key");
  }
  check_store_requirements(diag, svc, own, prefix);
  // An invalid verify_client value has been reported already; what it would
  // have meant is unknown, so nothing below depends on it.
  const service_fields* verify_from = source_of("verify_client");
  if (verify_from != nullptr && !verify_from->verify_client) return svc;

  if (svc.verify_client == verify_client_mode::none) {
    svc.truststore.clear();
    svc.positions.erase("truststore");
    svc.truststore_password_file.clear();
    svc.truststore_password_env.clear();
    svc.positions.erase("truststore_password_file");
    svc.positions.erase("truststore_password_env");
    if (svc.allow) {
      // With no certificate requested there is nothing to match: a
      // whitelist here would look like protection while admitting everyone.
      if (source_of("allow") == &own) {
        diag.report(own.written.at("allow"), prefix + ".allow",
                    "has no effect with verify_client = \"none\" (no client certificate is requested)");
      }
      svc.allow.reset();
      std::erase_if(svc.positions, [](const auto& entry) { return entry.first.starts_with("allow"); });
    }
    if (!svc.crl.empty()) {
      // Revocation is about client certificates; none is requested here.
      if (source_of("crl") == &own) {
        diag.report(own.written.at("crl"), prefix + ".crl",
                    "has no effect with verify_client = \"none\" (no client certificate is requested)");
      }
      svc.crl.clear();
      svc.positions.erase("crl");
    }
    for (const char* key : {"crl_url", "crl_from_cdp"}) {
      if (source_of(key) == &own)
        diag.report(own.written.at(key), prefix + "." + key,
                    "has no effect with verify_client = \"none\" (no client certificate is requested)");
      svc.positions.erase(key);
    }
    svc.crl_url.clear();
    svc.crl_from_cdp = false;
  } else if (!source_of("truststore")) {
    diag.report(own.block, prefix + ".truststore",
                "required key missing: client certificates are verified against it unless verify_client = \"none\"");
  }
  return svc;
}


}  // namespace

std::vector<service_config> read_services(diagnostics& diag, const toml::node& node, const service_fields& defaults,
                                          const std::filesystem::path& base_dir) {
  std::vector<service_config> services;
  const auto* array = node.as_array();
  if (array == nullptr) {
    diag.report(diag.at(node), "service",
                "expected an array of tables ([[service]]), got " + std::string(type_name(node)));
    return services;
  }
  if (array->empty()) {
    diag.report(diag.whole_file(), "service", "no [[service]] defined");
    return services;
  }

  std::map<std::string, int> first_line_of_name;
  std::vector<bool> accept_known;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    std::string prefix = "service[" + std::to_string(i + 1) + "]";
    const auto* table = element.as_table();
    if (table == nullptr) {
      diag.report(diag.at(element), prefix, "expected a table, got " + std::string(type_name(element)));
      continue;
    }

    std::string name;
    source_position name_at = diag.at(*table);
    bool name_ok = false;
    if (const toml::node* name_node = table->get("name")) {
      name_at = diag.at(*name_node);
      if (auto text = read_string(diag, *name_node, prefix + ".name")) {
        name = *text;
        name_ok = valid_service_name(name);
        if (!name_ok) {
          diag.report(name_at, prefix + ".name",
                      "invalid service name " + quote(name) + ": use 1 to 64 characters from A-Z a-z 0-9 . _ -");
        }
      }
    } else {
      diag.report(name_at, prefix + ".name", "required key missing");
    }
    if (name_ok) {
      prefix = "service[" + name + "]";
      if (auto [it, inserted] = first_line_of_name.emplace(name, name_at.line); !inserted) {
        diag.report(name_at, prefix + ".name",
                    "duplicate service name " + quote(name) + " (first defined at line " +
                        std::to_string(it->second) + ")");
      }
    }

    const service_fields own = read_service_fields(diag, *table, prefix, block_kind::service, base_dir);
    service_config svc = merge(diag, own, defaults, prefix);
    svc.name = name;
    if (table->contains("name")) svc.positions["name"] = name_at;
    svc.key_path_prefix = prefix;

    services.push_back(std::move(svc));
    accept_known.push_back(own.accept.has_value());
  }
  check_shared_addresses(diag, services, accept_known);
  return services;
}

}  // namespace mtlsd::config_detail
