#include "mtlsd/admin/status.hpp"

#include <map>

#include "mtlsd/log/logging.hpp"
#include "mtlsd/proxy/endpoint_text.hpp"

namespace mtlsd::admin {
namespace {

using log::json_string;

void add_context(std::vector<metrics::certificate_expiry>& out, const std::string& service,
                 const tls::server_context& tls, const char* server_role) {
  const auto& cert = tls.server_certificate();
  out.push_back({service, server_role, cert.subject, cert.not_after_unix});
  for (const auto& ca : tls.trusted_cas()) out.push_back({service, "truststore", ca.subject, ca.not_after_unix});
}

std::string certificate_json(const tls::certificate_summary& c, const char* role) {
  return "{\"role\":" + json_string(role) + ",\"subject\":" + json_string(c.subject) +
         ",\"issuer\":" + json_string(c.issuer) + ",\"not_after\":" + json_string(c.not_after) +
         ",\"not_after_unix\":" + std::to_string(c.not_after_unix) + ",\"expired\":" + (c.expired ? "true" : "false") +
         "}";
}

}  // namespace

std::vector<metrics::certificate_expiry> loaded_certificates(const proxy::runtime& rt) {
  std::vector<metrics::certificate_expiry> out;
  for (const auto& service : rt.services)
    if (service->tls) add_context(out, service->config.name, *service->tls, "server");
  if (rt.admin_tls) add_context(out, "admin", *rt.admin_tls, "admin");
  return out;
}

std::vector<metrics::crl_freshness> loaded_crls(const proxy::runtime& rt) {
  std::vector<metrics::crl_freshness> out;
  for (const auto& service : rt.services)
    if (service->tls)
      for (const auto& crl : service->tls->crls())
        out.push_back({service->config.name, crl.issuer, crl.next_update_unix});
  return out;
}

namespace {

// Each backend address of a service with its state: what an operator asks
// first when clients fail ("which backend is out, and why").
std::string backends_json(const proxy::backend_pool& pool) {
  std::string out = "[";
  bool first = true;
  for (const auto& m : pool.members()) {
    out += first ? "{" : ",{";
    first = false;
    out += "\"backend\":" + json_string(m->text());
    out += ",\"up\":" + std::string(m->down() ? "false" : "true");
    out += ",\"connections_active\":" + std::to_string(m->active());
    out += ",\"connections_total\":" + std::to_string(m->metrics().connections.value());
    out += ",\"connect_failures_total\":" + std::to_string(m->metrics().connect_failures.value());
    out += "}";
  }
  return out + "]";
}

}  // namespace

std::string status_json(const proxy::server& server, const metrics::registry& metrics, const daemon_facts& facts) {
  const proxy::runtime& rt = server.current();
  std::map<std::string, std::string> addresses;
  for (const auto& l : server.listening()) addresses[l.service] = proxy::to_text(l.local);
  std::map<std::string, std::int64_t> active;
  for (const auto& [name, m] : metrics.services()) active[name] = m->active.value();

  std::string out = "{";
  out += "\"version\":" + json_string(facts.build.version);
  out += ",\"openssl\":" + json_string(facts.build.openssl);
  out += ",\"config_file\":" + json_string(facts.config_file);
  out += ",\"ready\":" + std::string(facts.ready ? "true" : "false");
  out += ",\"draining\":" + std::string(facts.draining ? "true" : "false");
  out += ",\"config_generation\":" + std::to_string(facts.generation);
  out += ",\"last_reload\":{\"result\":" + json_string(facts.last_reload_result) +
         ",\"error\":" + json_string(facts.last_reload_error) + "}";
  out += ",\"workers\":" + std::to_string(server.worker_count());
  out += ",\"connections_active\":" + std::to_string(server.active_connections());
  out += ",\"services\":[";
  bool first = true;
  for (const auto& service : rt.services) {
    const service_config& c = service->config;
    out += first ? "{" : ",{";
    first = false;
    out += "\"name\":" + json_string(c.name);
    out += ",\"accept\":" + json_string(c.accept.to_string());
    out += ",\"listening\":" + json_string(addresses.count(c.name) ? addresses[c.name] : "");
    out += ",\"connect\":" + json_string(to_string(c.connect));
    out += ",\"tls\":" + std::string(service->tls ? "true" : "false");
    out += ",\"connections_active\":" + std::to_string(active.count(c.name) ? active[c.name] : 0);
    out += ",\"max_connections\":" + (c.max_connections ? std::to_string(*c.max_connections) : std::string("null"));
    if (service->tls) {
      out += ",\"verify_client\":" + json_string(to_string(c.verify_client));
      out += ",\"whitelist_rules\":" + std::to_string(c.allow ? c.allow->size() : 0);
      out += ",\"certificates\":[" + certificate_json(service->tls->server_certificate(), "server");
      for (const auto& ca : service->tls->trusted_cas()) out += "," + certificate_json(ca, "truststore");
      out += "]";
    }
    out += ",\"balance\":" + json_string(to_string(c.balance));
    out += ",\"backends\":" + backends_json(*service->backends);
    out += "}";
  }
  out += "]}";
  return out;
}

}  // namespace mtlsd::admin
