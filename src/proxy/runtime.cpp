#include "mtlsd/proxy/runtime.hpp"

#include <map>
#include <set>

namespace mtlsd::proxy {
namespace {

// "service[a].key" -> {"service[a]": {"key"}}; "defaults.cert" applies to all.
std::map<std::string, std::set<std::string>> faulted_keys(const config_errors& errors) {
  std::map<std::string, std::set<std::string>> keys;
  for (const auto& e : errors) {
    std::string prefix, key;
    if (e.key.rfind("service[", 0) == 0) {
      const auto close = e.key.find(']');
      if (close == std::string::npos) continue;
      prefix = e.key.substr(0, close + 1);
      key = close + 2 <= e.key.size() ? e.key.substr(close + 2) : "";
    } else if (e.key.rfind("defaults.", 0) == 0) {
      prefix = "*";
      key = e.key.substr(9);
    } else {
      continue;
    }
    keys[prefix].insert(key.substr(0, key.find('.')));
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
