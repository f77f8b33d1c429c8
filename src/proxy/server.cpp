#include "mtlsd/proxy/server.hpp"

#include <sys/resource.h>

#include <boost/asio/post.hpp>

#include <atomic>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "mtlsd/log/logging.hpp"
#include "mtlsd/proxy/endpoint_text.hpp"

namespace mtlsd::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Each proxied connection holds two descriptors. Raise the soft limit to the
// hard one and say so when even that cannot hold max_connections.
void raise_descriptor_limit(std::size_t max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  const rlim_t needed = static_cast<rlim_t>(max_connections) * 2 + 64;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    log::warn(log::record("descriptor_limit_low")
                  .add("nofile", static_cast<std::uint64_t>(limit.rlim_cur))
                  .add("needed", static_cast<std::uint64_t>(needed))
                  .add("hint", "raise LimitNOFILE / ulimit -n or lower server.max_connections"));
  }
}

std::size_t workers_for(std::size_t configured) {
  if (configured != 0) return configured;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

// Two spellings of one address ("localhost:8443", "127.0.0.1:8443") pass the
// config check, which compares the text; resolved, they would share a socket.
std::string same_address_error(const service_config& service, const std::string& other) {
  return "service " + service.name + ": accept address " + service.accept.host_port() +
         " is the same socket as service " + other + "'s; give each service its own address";
}

}  // namespace

server::server(asio::io_context& control, const platform::inherited_sockets& inherited)
    : control_(control), inherited_(inherited) {}

server::~server() {
  if (memory_release_) memory_release_->stop();
  // Normally the workers have finished; after a failed bind they never started.
  for (auto& w : workers_) w->join();
}

server::address_key server::key_of(const service_config& service) const {
  return {to_text(listener::resolve(control_, service)), service.accept.port == 0 ? service.name : std::string()};
}

std::vector<server::planned_socket> server::plan(const runtime& rt) const {
  std::vector<address_key> keys;
  std::vector<std::vector<std::shared_ptr<service_runtime>>> members;
  for (const auto& service : rt.services) {
    auto key = key_of(service->config);
    std::size_t i = 0;
    while (i < keys.size() && keys[i] != key) ++i;
    if (i == keys.size()) {
      keys.push_back(std::move(key));
      members.emplace_back();
    } else if (members[i].front()->config.accept.host_port() != service->config.accept.host_port()) {
      // The loader lets services share an address only when they write it
      // the same way; different spellings that resolve alike are a mistake.
      throw std::runtime_error(same_address_error(service->config, members[i].front()->config.name));
    }
    members[i].push_back(service);
  }
  std::vector<planned_socket> planned;
  for (std::size_t i = 0; i < keys.size(); ++i)
    planned.push_back({std::move(keys[i]), std::make_shared<const service_group>(std::move(members[i]))});
  return planned;
}

server::bound_address server::bind_group(const std::shared_ptr<const service_group>& group) {
  bound_address bound;
  for (const auto& service : group->services()) bound.services.push_back(service->config.name);
  const std::string& name = bound.services.front();
  bound.local = listener::resolve(control_, group->front()->config);
  std::optional<platform::inherited_socket> inherited;
  for (const auto& service : bound.services)
    if (!inherited) inherited = inherited_.find(service, bound.local);
  const bool reuse_port = workers_.size() > 1;
  for (auto& w : workers_) {
    tcp::acceptor acceptor = inherited ? listener::adopt(w->io(), inherited->fd, inherited->local, name)
                                       : listener::bind(w->io(), bound.local, reuse_port, name);
    // Port 0: the first worker's socket picked the port; the others join it.
    if (bound.per_worker.empty()) {
      error_code ec;
      bound.local = acceptor.local_endpoint(ec);
    }
    bound.per_worker.push_back(std::make_shared<listener>(std::move(acceptor), group, connections_, w->registry()));
  }
  bound.inherited = inherited.has_value();
  return bound;
}

namespace {

// "127.0.0.1:8080" or "10.0.0.5:8080,10.0.0.6:8080", with "tls://" for TLS backends.
std::string backends_text(const std::vector<endpoint_address>& backends) {
  std::string out;
  for (const auto& b : backends)
    out += (out.empty() ? "" : ",") + (b.scheme == transport::tls ? b.to_string() : b.host_port());
  return out;
}

}  // namespace

void server::log_listening(const bound_address& bound, const service_group& group) const {
  for (const auto& service : group.services()) {
    log::record line("listening");
    line.add("svc", service->config.name)
        .add("addr", to_text(bound.local))
        .add("tls", service->tls != nullptr)
        .add("backend", backends_text(service->config.connect))
        .add("inherited", bound.inherited);
    if (group.routes()) {
      std::string names;
      for (const auto& n : service->config.server_names) names += (names.empty() ? "" : ",") + n;
      line.add("server_names", names.empty() ? "(default)" : names);
    }
    log::info(line);
  }
}

void server::bind(std::shared_ptr<const runtime> first) {
  raise_descriptor_limit(first->server.max_connections);
  connections_.set_max(first->server.max_connections);
  const std::size_t count = workers_for(first->server.workers);
  for (std::size_t i = 0; i < count; ++i) workers_.push_back(std::make_unique<worker>());
  for (auto& socket : plan(*first)) {
    auto bound = bind_group(socket.services);
    log_listening(bound, *socket.services);
    listeners_.emplace(std::move(socket.key), std::move(bound));
  }
  current_ = std::move(first);
}

void server::start() {
  for (auto& [key, bound] : listeners_)
    for (auto& l : bound.per_worker) l->start();
  // Workers inherit the control thread's signal mask, which blocks the stop
  // and reload signals (platform::signal_reader).
  for (auto& w : workers_) w->start();
  started_ = true;
  memory_release_ = std::make_shared<memory_release>(control_, connections_, workers_.size(),
                                                     [this](std::function<void()> task) {
                                                       for (auto& w : workers_) w->post(task);
                                                     });
  memory_release_->start();
}

bool server::apply(std::shared_ptr<const runtime> next, std::string& error) {
  // Bind everything new first: a failure must leave the serving set untouched.
  std::map<address_key, bound_address> fresh;
  std::vector<planned_socket> planned;
  try {
    planned = plan(*next);
    for (const auto& socket : planned)
      if (!listeners_.contains(socket.key)) fresh.emplace(socket.key, bind_group(socket.services));
  } catch (const std::exception& e) {
    error = e.what();
    return false;  // `fresh` closes what it bound
  }

  std::set<address_key> named;
  for (const auto& socket : planned) {
    named.insert(socket.key);
    if (auto it = fresh.find(socket.key); it != fresh.end()) {
      log_listening(it->second, *socket.services);
      for (std::size_t w = 0; w < workers_.size(); ++w)
        workers_[w]->post([l = it->second.per_worker[w]] { l->start(); });
      listeners_.emplace(socket.key, std::move(it->second));
      continue;
    }
    auto& bound = listeners_.at(socket.key);
    // The socket stays as it is, so no `listening` line: services that join
    // or leave it show in /status and in `mtlsd check`.
    bound.services.clear();
    for (const auto& service : socket.services->services()) bound.services.push_back(service->config.name);
    for (std::size_t w = 0; w < workers_.size(); ++w)
      workers_[w]->post([l = bound.per_worker[w], group = socket.services] { l->set_services(group); });
  }
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (named.contains(it->first)) {
      ++it;
      continue;
    }
    // Logged once every worker has closed its socket: from that line on, the
    // system refuses connections to the address.
    auto open_sockets = std::make_shared<std::atomic<std::size_t>>(workers_.size());
    for (std::size_t w = 0; w < workers_.size(); ++w)
      workers_[w]->post([&control = control_, l = it->second.per_worker[w], open_sockets,
                         services = it->second.services, address = to_text(it->second.local)] {
        l->close();
        if (open_sockets->fetch_sub(1) != 1) return;
        asio::post(control, [services, address] {
          for (const auto& service : services)
            log::info(log::record("listener_closed").add("svc", service).add("addr", address));
        });
      });
    it = listeners_.erase(it);
  }
  connections_.set_max(next->server.max_connections);
  current_ = std::move(next);
  return true;
}

std::vector<listening_address> server::listening() const {
  std::vector<listening_address> out;
  for (const auto& [key, bound] : listeners_)
    for (const auto& service : bound.services) out.push_back({service, bound.local, bound.inherited});
  return out;
}

void server::drain(std::function<void()> on_closed, std::function<void()> on_done) {
  if (memory_release_) memory_release_->stop();
  std::vector<std::vector<std::shared_ptr<listener>>> closing(workers_.size());
  for (auto& [key, bound] : listeners_)
    for (std::size_t w = 0; w < workers_.size(); ++w) closing[w].push_back(bound.per_worker[w]);
  listeners_.clear();
  busy_workers_ = workers_.size();
  auto done = std::make_shared<std::function<void()>>(std::move(on_done));
  const auto worker_idle = [this, done] {
    if (--busy_workers_ != 0) return;
    drain_timer_.cancel();
    (*done)();
  };
  auto open_workers = std::make_shared<std::atomic<std::size_t>>(workers_.size());
  auto closed = std::make_shared<std::function<void()>>(std::move(on_closed));
  const auto worker_closed = [&control = control_, open_workers, closed] {
    if (open_workers->fetch_sub(1) == 1) asio::post(control, [closed] { (*closed)(); });
  };
  // Each worker reports from its own thread; the idle count lives on this one.
  for (std::size_t w = 0; w < workers_.size(); ++w)
    workers_[w]->close_then_when_idle(std::move(closing[w]), worker_closed,
                                      [this, worker_idle] { asio::post(control_, worker_idle); });
  drain_timer_.expires_after(current_->server.drain_timeout);
  drain_timer_.async_wait([this](const error_code& ec) {
    if (ec) return;
    log::warn(log::record("drain_timeout").add("connections", static_cast<std::uint64_t>(connections_.active())));
    stop_sessions();
  });
}

void server::stop_sessions() {
  for (auto& w : workers_) w->stop_sessions();
}

void server::reevaluate_live(std::shared_ptr<const runtime> next) {
  for (auto& w : workers_) w->reevaluate_sessions(next);
}

void server::ping_workers(std::function<void()> answered) {
  auto pending = std::make_shared<std::atomic<std::size_t>>(workers_.size());
  auto callback = std::make_shared<std::function<void()>>(std::move(answered));
  for (auto& w : workers_)
    w->post([&control = control_, pending, callback] {
      if (pending->fetch_sub(1) == 1) asio::post(control, [callback] { (*callback)(); });
    });
}

void server::join() {
  for (auto& w : workers_) w->join();
}

}  // namespace mtlsd::proxy
