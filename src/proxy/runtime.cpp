#include "mtlsd/proxy/runtime.hpp"

namespace mtlsd::proxy {

std::unique_ptr<runtime> build_runtime(const config& cfg, config_errors& errors) {
  auto rt = std::make_unique<runtime>(cfg.server);
  const std::size_t errors_before = errors.size();
  for (const auto& service : cfg.services) {
    auto entry = std::make_shared<service_runtime>(service);
    if (service.accept.scheme == transport::tls) {
      entry->tls = tls::server_context::build(service, errors, rt->warnings);
    }
    rt->services.push_back(std::move(entry));
  }
  if (errors.size() != errors_before) return nullptr;
  return rt;
}

}  // namespace mtlsd::proxy
