#pragma once
// The services one listening socket serves: usually one; several when they
// share an accept address and the client's server name (SNI) tells them
// apart. Built by the server for each configuration generation, immutable,
// shared by the socket's listeners on every worker and by each connection
// accepted through them.

#include <memory>
#include <string>
#include <vector>

#include "mtlsd/proxy/runtime.hpp"
#include "mtlsd/tls/sni_table.hpp"

namespace mtlsd::proxy {

class service_group {
 public:
  // `services` in configuration order; the config loader has checked that
  // they may share a socket (at most one without server_names, no name twice).
  explicit service_group(std::vector<std::shared_ptr<service_runtime>> services);

  // The service a connection belongs to until its ClientHello names one (and
  // for good when it never does): the default, else the first listed.
  const std::shared_ptr<service_runtime>& front() const { return front_; }
  // Null when no lookup is needed: a single service without server_names.
  const tls::sni_table* routes() const { return routed_ ? &routes_ : nullptr; }
  // The service whose TLS context the handshake ended up in.
  const std::shared_ptr<service_runtime>& owner_of(const tls::server_context* context) const;
  const std::vector<std::shared_ptr<service_runtime>>& services() const { return services_; }

 private:
  std::vector<std::shared_ptr<service_runtime>> services_;
  std::shared_ptr<service_runtime> front_;
  tls::sni_table routes_;
  bool routed_ = false;
};

}  // namespace mtlsd::proxy
