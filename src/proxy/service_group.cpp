#include "mtlsd/proxy/service_group.hpp"

namespace mtlsd::proxy {

service_group::service_group(std::vector<std::shared_ptr<service_runtime>> services) : services_(std::move(services)) {
  for (const auto& service : services_) {
    if (!front_ && service->config.server_names.empty()) front_ = service;
    if (!service->config.server_names.empty()) routed_ = true;
    if (service->tls) routes_.add(service->config.server_names, service->tls.get());
  }
  if (!front_) front_ = services_.front();
}

const std::shared_ptr<service_runtime>& service_group::owner_of(const tls::server_context* context) const {
  for (const auto& service : services_)
    if (service->tls.get() == context) return service;
  return front_;
}

}  // namespace mtlsd::proxy
