#pragma once
// The backends of one service: which address the next client connection is
// relayed to (balance), which addresses are out of rotation (passive health
// from failed connects, active health from backend_tasks) and the addresses a
// host name resolves to (every A/AAAA result is a member).
//
// Ownership and threading: one pool per service name for the life of the
// process. Every configuration generation's service_runtime holds the same
// pool (adopt() hands it over and reconfigure()s it), so a member's state and
// metrics survive reloads while its address stays configured. Workers call
// pick()/report_*() concurrently: the member list is an immutable snapshot
// swapped under mutex_ (held only to copy a shared_ptr), a member's counters
// are atomics, and its failure history has its own small mutex taken only
// when a connect fails or a member changes state.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "mtlsd/config/config.hpp"
#include "mtlsd/metrics/metrics.hpp"

namespace mtlsd::proxy {

using backend_clock = std::chrono::steady_clock;

// The service keys the pool follows; changed by a reload.
struct pool_settings {
  balance_mode balance = balance_mode::round_robin;
  std::size_t max_fails = 1;
  duration fail_window = std::chrono::seconds(10);
  duration fail_timeout = std::chrono::seconds(10);
  std::size_t connect_retries = 2;
  std::optional<duration> health_check_interval;
  duration resolve_interval = std::chrono::seconds(30);
  duration connect_timeout = std::chrono::seconds(5);

  static pool_settings of(const service_config& service);
};

// One backend address. Shared (shared_ptr) by the pool, the sessions leasing
// it and the health checker.
class backend_member {
 public:
  backend_member(boost::asio::ip::tcp::endpoint endpoint, std::string text, std::string host,
                 std::shared_ptr<metrics::backend_metrics> metrics);

  const boost::asio::ip::tcp::endpoint& endpoint() const { return endpoint_; }
  // "10.0.0.5:8080", or "name(10.0.0.5:8080)" for an address of a host name:
  // the access log's backend= and the metrics' backend label.
  const std::string& text() const { return text_; }
  // The host as configured in connect (a name, or the IP literal): what a
  // tls:// backend is sent as SNI and verified against by default.
  const std::string& host() const { return host_; }
  std::int64_t active() const { return metrics_->active.value(); }
  bool available(backend_clock::time_point now) const;
  bool down() const { return down_.load(std::memory_order_relaxed); }
  backend_clock::time_point last_failure() const;
  metrics::backend_metrics& metrics() const { return *metrics_; }

 private:
  friend class backend_pool;
  const boost::asio::ip::tcp::endpoint endpoint_;
  const std::string text_;
  const std::string host_;
  const std::shared_ptr<metrics::backend_metrics> metrics_;
  // Out of rotation until then (time_since_epoch ticks; min: in rotation, max:
  // until a health check passes).
  std::atomic<backend_clock::rep> down_until_;
  std::atomic<backend_clock::rep> last_failure_;
  std::atomic<bool> down_{false};  // backend_down logged, backend_up not yet
  std::mutex mutex_;               // failures_ and the transitions of down_
  std::deque<backend_clock::time_point> failures_;  // within fail_window
};

// A client connection's claim on a member: counts it in active connections
// (least_connections, random_two, the metric) until released or destroyed.
class backend_lease {
 public:
  backend_lease() = default;
  explicit backend_lease(std::shared_ptr<backend_member> member);
  backend_lease(backend_lease&& other) noexcept : member_(std::move(other.member_)) {}
  backend_lease& operator=(backend_lease&& other) noexcept;
  backend_lease(const backend_lease&) = delete;
  backend_lease& operator=(const backend_lease&) = delete;
  ~backend_lease() { release(); }

  void release();
  backend_member* get() const { return member_.get(); }
  backend_member* operator->() const { return member_.get(); }
  explicit operator bool() const { return member_ != nullptr; }

 private:
  std::shared_ptr<backend_member> member_;
};

class backend_pool {
 public:
  using member_ptr = std::shared_ptr<backend_member>;
  using clock_fn = std::function<backend_clock::time_point()>;
  // Where members get their metrics; the default makes standalone ones
  // (mtlsd check, unit tests).
  using metrics_fn = std::function<std::shared_ptr<metrics::backend_metrics>(const std::string& backend)>;

  explicit backend_pool(const service_config& service, clock_fn now = {});

  // A reload: new settings and connect list; members whose address stays
  // configured keep their state.
  void reconfigure(const service_config& service);
  // Called once, before members are handed out to sessions (proxy::adopt).
  void set_metrics_source(metrics_fn source);

  // The member for a connection attempt, never one in `tried` (the attempts
  // this connection already made). Among members in rotation, by `balance`;
  // when none is in rotation, the one that failed least recently, so a
  // pool whose backends all look down still gets a chance to serve. Null when
  // every member was tried (or none is known yet: see unresolved()).
  member_ptr pick(const std::vector<const backend_member*>& tried);
  // How many members one connection may try: 1 + connect_retries, at most
  // the number of members.
  std::size_t attempts_allowed() const;

  // Configured host names that never resolved yet: a session that finds no
  // member resolves them itself (asynchronously) and calls learn().
  std::vector<endpoint_address> unresolved() const;
  // Configured host names (what backend_tasks re-resolves).
  std::vector<endpoint_address> names() const;
  // The current addresses of a host name; an empty list is ignored like a failure.
  void learn(const std::string& host, std::uint16_t port, const std::vector<boost::asio::ip::tcp::endpoint>& found);
  void resolve_failed(const std::string& host, std::uint16_t port, const std::string& error);

  // Passive health: a connect to `member` failed / succeeded.
  void report_failure(backend_member& member, const std::string& error);
  void report_success(backend_member& member);
  // Active health: a check of `member` failed / passed.
  void report_check(backend_member& member, bool passed, const std::string& error);

  std::vector<member_ptr> members() const;
  pool_settings settings() const;
  const std::string& service() const { return service_; }

 private:
  struct target {
    endpoint_address address;
    bool literal = false;
    bool resolved = false;
    std::vector<member_ptr> members;
  };
  struct view {
    pool_settings settings;
    std::vector<member_ptr> members;
  };

  std::shared_ptr<const view> snapshot() const;
  void publish();  // with mutex_ held
  member_ptr make_member(const boost::asio::ip::tcp::endpoint& endpoint, std::string text, std::string host) const;
  target make_target(const endpoint_address& address) const;
  std::vector<target> targets_for(const service_config& service) const;
  void take_down(backend_member& member, backend_clock::time_point until, std::string_view reason,
                 const std::string& error);
  void bring_up(backend_member& member, std::string_view reason);

  const std::string service_;
  const clock_fn now_;
  std::atomic<std::uint64_t> next_{0};  // round-robin position

  mutable std::mutex mutex_;  // targets_, settings_, view_, metrics_
  pool_settings settings_;
  std::vector<target> targets_;
  std::shared_ptr<const view> view_;
  metrics_fn metrics_;
};

}  // namespace mtlsd::proxy
