#pragma once
// What the admin endpoint shows about the running daemon: /status (JSON) and
// the certificate facts /metrics adds to the counters. Computed on request
// from the live server on the control thread.

#include <cstdint>
#include <string>
#include <vector>

#include "mtlsd/metrics/exposition.hpp"
#include "mtlsd/metrics/metrics.hpp"
#include "mtlsd/proxy/server.hpp"

namespace mtlsd::admin {

struct daemon_facts {
  metrics::build_info build;
  std::string config_file;
  bool ready = false;
  bool draining = false;
  std::uint64_t generation = 0;
  std::string last_reload_result;  // "" before any reload, "success" or "failure"
  std::string last_reload_error;   // first error of a failed reload
};

// Every server certificate and truststore CA of `rt` (and the admin endpoint's).
std::vector<metrics::certificate_expiry> loaded_certificates(const proxy::runtime& rt);

// Every CRL the services of `rt` loaded.
std::vector<metrics::crl_freshness> loaded_crls(const proxy::runtime& rt);

std::string status_json(const proxy::server& server, const metrics::registry& metrics, const daemon_facts& facts);

}  // namespace mtlsd::admin
