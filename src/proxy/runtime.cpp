#include "mtlsd/proxy/runtime.hpp"

#include <algorithm>
#include <map>
#include <string_view>
#include <set>

namespace mtlsd::proxy {
namespace {

// "service[a].key" -> {"service[a]": {"key"}}; "defaults.cert" applies to all ("*").
std::map<std::string, std::set<std::string>> faulted_keys(const config_errors& errors) {
  std::map<std::string, std::set<std::string>> keys;
  for (const auto& e : errors) {
    const std::string_view path = e.key;
    std::string_view prefix, rest;
    if (path.starts_with("service[")) {
      const auto close = path.find(']');
      if (close == std::string_view::npos) continue;
      prefix = path.substr(0, close + 1);
      rest = path.substr(std::min(close + 2, path.size()));
    } else if (path.starts_with("defaults.")) {
      prefix = "*";
      rest = path.substr(9);
    } else if (path.starts_with("admin.")) {
      prefix = "admin";
      rest = path.substr(6);
    } else {
      continue;
    }
    keys[std::string(prefix)].emplace(rest.substr(0, rest.find('.')));
  }
  return keys;
}


// [service.upstream] files, for tls:// backends whatever the accept scheme.
void add_upstream_files(std::vector<std::filesystem::path>& files, const service_config& service) {
  if (service.connect.empty() || service.connect.front().scheme != transport::tls) return;
  const auto& up = service.upstream;
  for (const auto* path : {&up.cert, &up.key, &up.key_password_file, &up.keystore, &up.keystore_password_file,
                           &up.truststore, &up.truststore_password_file})
    if (!path->empty() && std::find(files.begin(), files.end(), *path) == files.end()) files.push_back(*path);
}

void add_files(std::vector<std::filesystem::path>& files, const service_config& service) {
  add_upstream_files(files, service);
  if (service.accept.scheme != transport::tls) return;
  for (const auto* path : {&service.cert, &service.key, &service.key_password_file, &service.truststore,
                           &service.session_ticket_key_file, &service.keystore, &service.keystore_password_file,
                           &service.truststore_password_file})
    if (!path->empty() && std::find(files.begin(), files.end(), *path) == files.end()) files.push_back(*path);
  // A new CRL or a refreshed OCSP response is picked up like a new certificate.
  std::vector<const std::filesystem::path*> revocation;
  for (const auto& crl : service.crl) revocation.push_back(&crl);
  revocation.push_back(&service.ocsp_staple_file);
  for (const auto* path : revocation)
    if (!path->empty() && std::find(files.begin(), files.end(), *path) == files.end()) files.push_back(*path);
  // The background fetcher replaces a cached CRL; the reload it asks for
  // sees the change through the fingerprint of these files.
  if (service.verify_client == verify_client_mode::none) return;
  for (const auto& url : service.crl_url) {
    auto cached = tls::crl_cache_file(service.crl_cache_dir, url);
    if (std::find(files.begin(), files.end(), cached) == files.end()) files.push_back(std::move(cached));
  }
}

std::set<std::string> faulted_for(const std::map<std::string, std::set<std::string>>& faulted,
                                  const std::string& prefix, bool with_defaults) {
  std::set<std::string> known_bad;
  if (with_defaults)
    if (auto it = faulted.find("*"); it != faulted.end()) known_bad = it->second;
  if (auto it = faulted.find(prefix); it != faulted.end()) known_bad.insert(it->second.begin(), it->second.end());
  return known_bad;
}

}  // namespace

std::vector<std::filesystem::path> named_files(const config& cfg) {
  std::vector<std::filesystem::path> files{cfg.file};
  for (const auto& service : cfg.services) add_files(files, service);
  if (cfg.admin.listen) add_files(files, cfg.admin.tls);
  return files;
}

std::unique_ptr<runtime> build_runtime(const config& cfg, config_errors& errors) {
  auto rt = std::make_unique<runtime>(cfg);
  rt->files = named_files(cfg);
  const auto faulted = faulted_keys(errors);
  for (const auto& service : cfg.services) {
    auto entry = std::make_shared<service_runtime>(service);
    if (service.accept.scheme == transport::tls) {
      entry->tls = tls::server_context::build(service, errors, rt->warnings,
                                              faulted_for(faulted, service.key_path_prefix, true));
      // Distribution points (crl_from_cdp) are known only once the truststore is read.
      if (entry->tls)
        for (const auto& fetched : entry->tls->fetched_crls())
          if (std::find(rt->files.begin(), rt->files.end(), fetched.cache_file) == rt->files.end())
            rt->files.push_back(fetched.cache_file);
    }
    if (!service.connect.empty() && service.connect.front().scheme == transport::tls &&
        !faulted_for(faulted, service.key_path_prefix, true).contains("upstream"))
      entry->upstream_tls = tls::client_context::build(
          service, errors, rt->warnings, entry->tls ? SSL_CTX_get0_certificate(entry->tls->native()) : nullptr);
    rt->services.push_back(std::move(entry));
  }
  if (cfg.admin.listen && cfg.admin.listen->scheme == transport::tls) {
    rt->admin_tls = tls::server_context::build(cfg.admin.tls, errors, rt->warnings, faulted_for(faulted, "admin", false));
  }
  if (!errors.empty()) return nullptr;
  return rt;
}

void adopt(runtime& next, const runtime* previous, metrics::registry& registry) {
  for (auto& service : next.services) {
    service->metrics = registry.service(service->config.name);
    if (previous == nullptr) continue;
    for (const auto& old : previous->services) {
      if (old->config.name != service->config.name) continue;
      old->connections->set_max(service->config.max_connections.value_or(0));
      service->connections = old->connections;
      break;
    }
  }
  // Backend pools live as long as their service: members keep their health
  // state, open-connection counts and metrics across reloads.
  for (auto& service : next.services) {
    std::shared_ptr<backend_pool> kept;
    if (previous != nullptr)
      for (const auto& old : previous->services)
        if (old->config.name == service->config.name) kept = old->backends;
    if (kept) {
      kept->reconfigure(service->config);
      service->backends = std::move(kept);
    } else {
      service->backends->set_metrics_source([&registry, name = service->config.name](const std::string& backend) {
        return registry.backend(name, backend);
      });
    }
  }
}

}  // namespace mtlsd::proxy
