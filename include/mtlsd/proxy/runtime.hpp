#pragma once
// A validated configuration turned into what connections use: per service the
// TLS context (built once) and connection counters. Start-up and `mtlsd check`
// build it the same way, so check reports exactly what run would refuse.

#include <memory>
#include <string>
#include <vector>

#include "mtlsd/config/config.hpp"
#include "mtlsd/config/error.hpp"
#include "mtlsd/proxy/limits.hpp"
#include "mtlsd/tls/server_context.hpp"

namespace mtlsd::proxy {

struct service_runtime {
  service_config config;
  std::shared_ptr<const tls::server_context> tls;  // null for tcp:// listeners
  connection_counter connections;

  explicit service_runtime(service_config c)
      : config(std::move(c)), connections(config.max_connections.value_or(0)) {}
};

struct runtime {
  server_config server;
  connection_counter connections;  // across all services
  std::vector<std::shared_ptr<service_runtime>> services;
  std::vector<std::string> warnings;

  explicit runtime(const server_config& s) : server(s), connections(s.max_connections) {}
};

// Loads every file the config names and builds the TLS contexts. Returns null
// with every problem appended to `errors` when anything is wrong, including
// when `errors` already held loader errors: files are still checked then, but
// those whose keys the loader already faulted are skipped.
std::unique_ptr<runtime> build_runtime(const config& cfg, config_errors& errors);

}  // namespace mtlsd::proxy
