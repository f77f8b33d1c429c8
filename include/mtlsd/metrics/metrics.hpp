#pragma once
// What mtlsd counts, for /metrics. The data path bumps relaxed atomics (once
// per connection, per handshake, per read), never takes a lock and never
// allocates; the admin endpoint reads them and renders the Prometheus text
// format (exposition.hpp).
//
// Per-service metrics are looked up by service name in the registry and the
// same object is handed to every configuration generation, so counters stay
// monotonic across reloads. Label values are bounded: service names from the
// config and the fixed reason vocabulary (rejection.hpp) — never a peer address.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mtlsd/tls/rejection.hpp"

namespace mtlsd::metrics {

class counter {
 public:
  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class gauge {
 public:
  void add(std::int64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::int64_t n = 1) noexcept { value_.fetch_sub(n, std::memory_order_relaxed); }
  void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Latency histogram with fixed bounds (seconds), shared by handshakes and
// backend connects: 0.5 ms on loopback up to the default 10 s timeouts.
class histogram {
 public:
  static constexpr std::array<double, 14> bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1.0,   2.5,   5.0,   10.0};
  struct snapshot {
    std::array<std::uint64_t, bounds.size()> cumulative{};  // observations <= bounds[i]
    std::uint64_t count = 0;                                 // all observations (the +Inf bucket)
    double sum_seconds = 0;
  };

  void observe(std::chrono::nanoseconds elapsed) noexcept;
  snapshot read() const noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets_{};  // last: above every bound
  std::atomic<std::uint64_t> sum_nanoseconds_{0};
};

// Why an incoming PROXY header was refused (log reason= and metric label).
inline constexpr std::array<std::string_view, 4> proxy_header_reasons = {"malformed", "too_large", "timeout",
                                                                         "closed"};

struct service_metrics {
  counter accepted;               // TCP connections accepted, before any limit
  gauge active;                   // connections open now (accepted and not yet closed)
  counter refused_limit;          // closed at once: max_connections reached
  counter handshakes_ok;
  std::array<counter, rejection_reason_count> handshake_failures;  // by rejection_reason
  counter silent_closes;          // connected and closed without a ClientHello (probes, scans)
  histogram handshake_duration;   // successful and failed handshakes
  counter bytes_client_to_backend;
  counter bytes_backend_to_client;
  counter backend_connects_ok;
  counter backend_connect_failures;
  histogram backend_connect_duration;  // successful connects
  // Live connections closed after a reload because the new rules refuse
  // their client (reevaluate_live), by rejection_reason.
  std::array<counter, rejection_reason_count> live_rejections;
  // accept_proxy_protocol: connections closed for their PROXY header, by
  // proxy_header_reasons (index), and headers sent to backends.
  std::array<counter, proxy_header_reasons.size()> proxy_header_rejections;
  counter proxy_headers_sent;
  // TLS towards tls:// backends: handshakes that succeeded (and of those,
  // resumed a cached session) and failures by rejection_reason.
  counter upstream_handshakes_ok;
  counter upstream_handshakes_resumed;
  std::array<counter, rejection_reason_count> upstream_handshake_failures;
  // Out of file descriptors: listeners of this service pausing accept now,
  // and connections closed at once for lack of a descriptor (accepted
  // through the reserve, see platform/descriptors.hpp).
  gauge accept_paused;
  counter refused_descriptors;
};

// One backend address of a service (a configured IP literal, or one address a
// host name resolved to). Owned by the backend pool's member; the registry
// only remembers it while the member lives, so addresses that DNS dropped
// leave /metrics instead of lingering as stale series.
struct backend_metrics {
  gauge active;             // client connections relayed to it now
  counter connections;      // connects that succeeded
  counter connect_failures;  // connect attempts that failed (refused, timeout, unreachable)
  gauge up;                 // 1 in rotation, 0 taken out (passive or active health)
};

struct process_metrics {
  counter reloads_ok;
  counter reloads_failed;
  gauge last_reload_success_ms;  // Unix time in milliseconds; start-up counts as the first load
  gauge config_generation;       // 1 at start-up, +1 per successful reload
  gauge start_time_ms;           // Unix time in milliseconds
  gauge ready;                   // 1 once every listener is bound; 0 while draining
  gauge draining;                // 1 after a stop signal
};

class registry {
 public:
  // Get-or-create; the same object for the same name for the process's lifetime.
  std::shared_ptr<service_metrics> service(const std::string& name);
  // Every service ever registered, by name (removed services keep their last values).
  std::vector<std::pair<std::string, std::shared_ptr<const service_metrics>>> services() const;
  // Get-or-create by (service, backend): the same object while anyone holds it.
  std::shared_ptr<backend_metrics> backend(const std::string& service, const std::string& backend);
  struct backend_entry {
    std::string service;
    std::string backend;
    std::shared_ptr<const backend_metrics> metrics;
  };
  // The live ones, sorted by service then backend.
  std::vector<backend_entry> backends() const;
  process_metrics& process() noexcept { return process_; }
  const process_metrics& process() const noexcept { return process_; }

 private:
  mutable std::mutex mutex_;  // guards the map only; the metrics are atomics
  std::map<std::string, std::shared_ptr<service_metrics>> services_;
  process_metrics process_;
  std::map<std::pair<std::string, std::string>, std::weak_ptr<backend_metrics>> backends_;  // under mutex_
};

}  // namespace mtlsd::metrics
