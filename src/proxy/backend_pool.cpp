#include "mtlsd/proxy/backend_pool.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>

#include "mtlsd/log/logging.hpp"
#include "mtlsd/proxy/endpoint_text.hpp"

namespace mtlsd::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto in_rotation = backend_clock::time_point::min();
constexpr auto until_check_passes = backend_clock::time_point::max();

backend_clock::rep ticks(backend_clock::time_point t) { return t.time_since_epoch().count(); }
backend_clock::time_point from_ticks(backend_clock::rep r) {
  return backend_clock::time_point(backend_clock::duration(r));
}

// A steady-clock instant as wall-clock UTC for the log: "2026-11-24T06:01:02.345Z".
std::string wall_clock_text(backend_clock::time_point when, backend_clock::time_point now) {
  const auto wall = std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(when - now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const auto n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(ms % 1000));
  return text;
}

std::minstd_rand& random_engine() {
  thread_local std::minstd_rand engine(std::random_device{}());
  return engine;
}

bool contains(const std::vector<const backend_member*>& tried, const backend_member* m) {
  return std::find(tried.begin(), tried.end(), m) != tried.end();
}

}  // namespace

pool_settings pool_settings::of(const service_config& service) {
  pool_settings s;
  s.balance = service.balance;
  s.max_fails = std::max<std::size_t>(service.max_fails, 1);
  s.fail_window = service.fail_window;
  s.fail_timeout = service.fail_timeout;
  s.connect_retries = service.connect_retries;
  s.health_check_interval = service.health_check_interval;
  s.resolve_interval = service.resolve_interval;
  s.connect_timeout = service.connect_timeout;
  return s;
}

backend_member::backend_member(tcp::endpoint endpoint, std::string text, std::string host,
                               std::shared_ptr<metrics::backend_metrics> metrics)
    : endpoint_(std::move(endpoint)),
      text_(std::move(text)),
      host_(std::move(host)),
      metrics_(std::move(metrics)),
      down_until_(ticks(in_rotation)),
      last_failure_(ticks(in_rotation)) {}

bool backend_member::available(backend_clock::time_point now) const {
  return from_ticks(down_until_.load(std::memory_order_relaxed)) <= now;
}

backend_clock::time_point backend_member::last_failure() const {
  return from_ticks(last_failure_.load(std::memory_order_relaxed));
}

backend_lease::backend_lease(std::shared_ptr<backend_member> member) : member_(std::move(member)) {
  if (member_) member_->metrics().active.add();
}

backend_lease& backend_lease::operator=(backend_lease&& other) noexcept {
  if (this != &other) {
    release();
    member_ = std::move(other.member_);
  }
  return *this;
}

void backend_lease::release() {
  if (member_) member_->metrics().active.sub();
  member_.reset();
}

backend_pool::backend_pool(const service_config& service, clock_fn now)
    : service_(service.name),
      now_(now ? std::move(now) : clock_fn([] { return backend_clock::now(); })),
      settings_(pool_settings::of(service)) {
  metrics_ = [](const std::string&) {
    auto m = std::make_shared<metrics::backend_metrics>();
    m->up.set(1);
    return m;
  };
  targets_ = targets_for(service);
  const std::lock_guard lock(mutex_);
  publish();
}

backend_pool::member_ptr backend_pool::make_member(const tcp::endpoint& endpoint, std::string text,
                                                  std::string host) const {
  auto metrics = metrics_(text);
  return std::make_shared<backend_member>(endpoint, std::move(text), std::move(host), std::move(metrics));
}

backend_pool::target backend_pool::make_target(const endpoint_address& address) const {
  target t;
  t.address = address;
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(address.host, ec);
  if (!ec) {
    t.literal = t.resolved = true;
    t.members.push_back(make_member(tcp::endpoint(ip, address.port), address.host_port(), address.host));
  }
  return t;
}

std::vector<backend_pool::target> backend_pool::targets_for(const service_config& service) const {
  std::vector<target> out;
  for (const auto& address : service.connect) out.push_back(make_target(address));
  return out;
}

void backend_pool::reconfigure(const service_config& service) {
  const std::lock_guard lock(mutex_);
  settings_ = pool_settings::of(service);
  std::vector<target> next;
  for (const auto& address : service.connect) {
    const auto same = std::find_if(targets_.begin(), targets_.end(), [&](const target& t) {
      return t.address.host == address.host && t.address.port == address.port;
    });
    if (same != targets_.end()) {
      next.push_back(*same);
      next.back().address = address;
    } else {
      next.push_back(make_target(address));
    }
  }
  targets_ = std::move(next);
  publish();
}

void backend_pool::set_metrics_source(metrics_fn source) {
  const std::lock_guard lock(mutex_);
  metrics_ = std::move(source);
  // Nothing has leased a member yet: recreate them with the registry's metrics.
  for (auto& t : targets_)
    for (auto& m : t.members) m = make_member(m->endpoint(), m->text(), m->host());
  publish();
}

void backend_pool::publish() {
  auto v = std::make_shared<view>();
  v->settings = settings_;
  for (const auto& t : targets_)
    for (const auto& m : t.members)
      if (std::none_of(v->members.begin(), v->members.end(), [&](const member_ptr& o) { return o == m; }))
        v->members.push_back(m);
  view_ = std::move(v);
}

std::shared_ptr<const backend_pool::view> backend_pool::snapshot() const {
  const std::lock_guard lock(mutex_);
  return view_;
}

backend_pool::member_ptr backend_pool::pick(const std::vector<const backend_member*>& tried) {
  const auto v = snapshot();
  const auto now = now_();
  std::vector<const member_ptr*> ready;
  ready.reserve(v->members.size());
  const member_ptr* least_recently_failed = nullptr;
  for (const auto& m : v->members) {
    if (contains(tried, m.get())) continue;
    if (m->available(now)) {
      ready.push_back(&m);
    } else if (!least_recently_failed || m->last_failure() < (*least_recently_failed)->last_failure()) {
      least_recently_failed = &m;
    }
  }
  if (ready.empty()) return least_recently_failed ? *least_recently_failed : nullptr;
  const std::size_t n = ready.size();
  switch (v->settings.balance) {
    case balance_mode::round_robin:
      return *ready[next_.fetch_add(1, std::memory_order_relaxed) % n];
    case balance_mode::least_connections: {
      // Ties go round robin, so that an idle pool still spreads its load.
      const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
      const member_ptr* best = ready[start];
      for (std::size_t i = 1; i < n; ++i) {
        const member_ptr* m = ready[(start + i) % n];
        if ((*m)->active() < (*best)->active()) best = m;
      }
      return *best;
    }
    case balance_mode::random_two: {
      if (n == 1) return *ready[0];
      std::uniform_int_distribution<std::size_t> first(0, n - 1), second(0, n - 2);
      const std::size_t a = first(random_engine());
      std::size_t b = second(random_engine());
      if (b >= a) ++b;
      return (*ready[b])->active() < (*ready[a])->active() ? *ready[b] : *ready[a];
    }
  }
  return *ready[0];
}

std::size_t backend_pool::attempts_allowed() const {
  const auto v = snapshot();
  return std::max<std::size_t>(1, std::min(v->settings.connect_retries + 1, v->members.size()));
}

std::vector<endpoint_address> backend_pool::unresolved() const {
  const std::lock_guard lock(mutex_);
  std::vector<endpoint_address> out;
  for (const auto& t : targets_)
    if (!t.resolved) out.push_back(t.address);
  return out;
}

std::vector<endpoint_address> backend_pool::names() const {
  const std::lock_guard lock(mutex_);
  std::vector<endpoint_address> out;
  for (const auto& t : targets_)
    if (!t.literal) out.push_back(t.address);
  return out;
}

void backend_pool::learn(const std::string& host, std::uint16_t port, const std::vector<tcp::endpoint>& found) {
  if (found.empty()) return resolve_failed(host, port, "no addresses");
  const std::lock_guard lock(mutex_);
  bool changed = false;
  std::vector<std::string> texts;
  for (auto& t : targets_) {
    if (t.literal || t.address.host != host || t.address.port != port) continue;
    std::vector<member_ptr> next;
    for (const auto& endpoint : found) {
      if (std::any_of(next.begin(), next.end(), [&](const member_ptr& m) { return m->endpoint() == endpoint; }))
        continue;
      const auto kept = std::find_if(t.members.begin(), t.members.end(),
                                     [&](const member_ptr& m) { return m->endpoint() == endpoint; });
      next.push_back(kept != t.members.end() ? *kept : make_member(endpoint, host + "(" + to_text(endpoint) + ")", host));
    }
    if (!t.resolved || next != t.members) changed = true;
    t.members = std::move(next);
    t.resolved = true;
    texts.clear();
    for (const auto& m : t.members) texts.push_back(to_text(m->endpoint()));
  }
  if (!changed) return;
  publish();
  log::info(log::record("backend_resolved").add("svc", service_).add("host", host).add("addresses", texts));
}

void backend_pool::resolve_failed(const std::string& host, std::uint16_t port, const std::string& error) {
  std::size_t kept = 0;
  {
    const std::lock_guard lock(mutex_);
    for (const auto& t : targets_)
      if (!t.literal && t.address.host == host && t.address.port == port) kept += t.members.size();
  }
  log::warn(log::record("backend_resolve_failed")
                .add("svc", service_)
                .add("host", host)
                .add("error", error)
                .add("kept", static_cast<std::uint64_t>(kept)));
}

void backend_pool::take_down(backend_member& member, backend_clock::time_point until, std::string_view reason,
                             const std::string& error) {
  const auto now = now_();
  member.down_until_.store(ticks(until), std::memory_order_relaxed);
  member.down_.store(true, std::memory_order_relaxed);
  member.metrics_->up.set(0);
  log::warn(log::record("backend_down")
                .add("svc", service_)
                .add("backend", member.text())
                .add("reason", reason)
                .add("error", error)
                .add("until", until == until_check_passes ? std::string("health_check_passes")
                                                          : wall_clock_text(until, now)));
}

void backend_pool::bring_up(backend_member& member, std::string_view reason) {
  member.down_until_.store(ticks(in_rotation), std::memory_order_relaxed);
  member.down_.store(false, std::memory_order_relaxed);
  member.failures_.clear();
  member.metrics_->up.set(1);
  log::info(log::record("backend_up").add("svc", service_).add("backend", member.text()).add("reason", reason));
}

void backend_pool::report_failure(backend_member& member, const std::string& error) {
  member.metrics_->connect_failures.add();
  const auto s = snapshot()->settings;
  const auto now = now_();
  const std::lock_guard lock(member.mutex_);
  member.last_failure_.store(ticks(now), std::memory_order_relaxed);
  if (member.down()) {
    // Its fail_timeout passed and the first connection it was given failed
    // too: out again at once, without waiting for max_fails more.
    if (member.available(now)) take_down(member, now + s.fail_timeout, "connect_failed", error);
    return;
  }
  while (!member.failures_.empty() && member.failures_.front() <= now - s.fail_window) member.failures_.pop_front();
  member.failures_.push_back(now);
  if (member.failures_.size() >= s.max_fails) {
    member.failures_.clear();
    take_down(member, now + s.fail_timeout, "connect_failed", error);
  }
}

void backend_pool::report_success(backend_member& member) {
  member.metrics_->connections.add();
  if (!member.down()) return;
  const std::lock_guard lock(member.mutex_);
  if (member.down()) bring_up(member, "connect_succeeded");
}

void backend_pool::report_check(backend_member& member, bool passed, const std::string& error) {
  const std::lock_guard lock(member.mutex_);
  if (passed) {
    if (member.down()) bring_up(member, "health_check");
    return;
  }
  if (!member.down())
    take_down(member, until_check_passes, "health_check", error);
  else
    member.down_until_.store(ticks(until_check_passes), std::memory_order_relaxed);
}

std::vector<backend_pool::member_ptr> backend_pool::members() const { return snapshot()->members; }

pool_settings backend_pool::settings() const { return snapshot()->settings; }

}  // namespace mtlsd::proxy
