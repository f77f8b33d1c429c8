#pragma once
// A validated configuration turned into what connections use — one
// configuration generation: per service the TLS context (built once) and
// handles to its connection counter and metrics. Start-up, `mtlsd check` and
// every reload build it the same way, so check reports exactly what run (or a
// reload) would refuse.
//
// A generation is immutable once built. Each connection holds the
// service_runtime it was accepted under, so a reload never changes the rules
// of a live connection; the old generation goes away with its last connection.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mtlsd/config/config.hpp"
#include "mtlsd/config/error.hpp"
#include "mtlsd/metrics/metrics.hpp"
#include "mtlsd/proxy/backend_pool.hpp"
#include "mtlsd/proxy/limits.hpp"
#include "mtlsd/tls/client_context.hpp"
#include "mtlsd/tls/server_context.hpp"

namespace mtlsd::proxy {

struct service_runtime {
  service_config config;
  std::shared_ptr<const tls::server_context> tls;  // null for tcp:// listeners
  std::shared_ptr<const tls::client_context> upstream_tls;  // null for tcp:// backends
  // Shared with the previous generation's service of the same name, so that
  // max_connections counts connections accepted before a reload too.
  std::shared_ptr<connection_counter> connections;
  std::shared_ptr<metrics::service_metrics> metrics;
  // The service's backends and their health; the same pool for every
  // generation (adopt), shared by all workers.
  std::shared_ptr<backend_pool> backends;

  explicit service_runtime(service_config c)
      : config(std::move(c)),
        connections(std::make_shared<connection_counter>(config.max_connections.value_or(0))),
        metrics(std::make_shared<metrics::service_metrics>()),
        backends(std::make_shared<backend_pool>(config)) {}
};

struct runtime {
  server_config server;
  admin_config admin;
  std::shared_ptr<const tls::server_context> admin_tls;  // null: plain HTTP or no admin endpoint
  std::vector<std::shared_ptr<service_runtime>> services;
  std::vector<std::string> warnings;
  // Every file the configuration names, the config file first: what a reload
  // re-reads and what `watch` observes.
  std::vector<std::filesystem::path> files;

  explicit runtime(const config& cfg) : server(cfg.server), admin(cfg.admin) {}
};

// Loads every file the config names and builds the TLS contexts. Returns null
// with every problem appended to `errors` when anything is wrong, including
// when `errors` already held loader errors: files are still checked then, but
// those whose keys the loader already faulted are skipped.
std::unique_ptr<runtime> build_runtime(const config& cfg, config_errors& errors);

// The config file and every file it names (what `runtime::files` holds),
// also for a configuration that failed to load.
std::vector<std::filesystem::path> named_files(const config& cfg);

// Takes over, by service name, the connection counters, metrics and backend
// pools of the generation being replaced (`previous` may be null: start-up),
// and registers new services' metrics (and backends') in `registry`.
void adopt(runtime& next, const runtime* previous, metrics::registry& registry);

}  // namespace mtlsd::proxy
