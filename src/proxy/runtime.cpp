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
    } else {
      continue;
    }
    keys[std::string(prefix)].emplace(rest.substr(0, rest.find('.')));
  }
  return keys;
}

}  // namespace

std::unique_ptr<runtime> build_runtime(const config& cfg, config_errors& errors) {
  auto rt = std::make_unique<runtime>(cfg.server);
  const auto faulted = faulted_keys(errors);
  const auto defaults_faulted = faulted.count("*") ? faulted.at("*") : std::set<std::string>{};
  for (const auto& service : cfg.services) {
    auto entry = std::make_shared<service_runtime>(service);
    if (service.accept.scheme == transport::tls) {
      std::set<std::string> known_bad = defaults_faulted;
      if (auto it = faulted.find(service.key_path_prefix); it != faulted.end())
        known_bad.insert(it->second.begin(), it->second.end());
      entry->tls = tls::server_context::build(service, errors, rt->warnings, known_bad);
    }
    rt->services.push_back(std::move(entry));
  }
  if (!errors.empty()) return nullptr;
  return rt;
}

}  // namespace mtlsd::proxy
