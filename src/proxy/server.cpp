#include "mtlsd/proxy/server.hpp"

#include <pthread.h>
#include <sys/resource.h>

#include <boost/asio/post.hpp>

#include <csignal>
#include <thread>

#include "mtlsd/log/logging.hpp"
#include "mtlsd/proxy/endpoint_text.hpp"

namespace mtlsd::proxy {

namespace asio = boost::asio;

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

const char* signal_name(int number) {
  switch (number) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    default: return "signal";
  }
}

std::size_t worker_count(std::size_t configured) {
  if (configured != 0) return configured;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

}  // namespace

server::server(std::unique_ptr<runtime> rt) : runtime_(std::move(rt)) {}

server::~server() {
  // Normally the workers have finished; after a failed bind they never started.
  for (auto& w : workers_) w->join();
}

void server::bind() {
  raise_descriptor_limit(runtime_->server.max_connections);
  const std::size_t count = worker_count(runtime_->server.workers);
  std::vector<asio::ip::tcp::endpoint> endpoints;
  for (const auto& service : runtime_->services) endpoints.push_back(listener::resolve(io_, *service));
  for (std::size_t i = 0; i < count; ++i) {
    auto w = std::make_unique<worker>(*runtime_);
    w->bind(endpoints, count > 1);
    // Port 0: the first worker's socket picked the port; the others join it.
    if (i == 0)
      for (std::size_t s = 0; s < endpoints.size(); ++s) endpoints[s] = w->local_endpoint(s);
    workers_.push_back(std::move(w));
  }
}

int server::run() {
  for (std::size_t s = 0; s < runtime_->services.size(); ++s) {
    const auto& service = *runtime_->services[s];
    log::info(log::record("listening")
                  .add("svc", service.config.name)
                  .add("addr", to_text(workers_.front()->local_endpoint(s)))
                  .add("tls", service.tls != nullptr)
                  .add("backend", service.config.connect.host_port()));
  }
  {
    // Workers inherit this mask: stop signals always reach the main thread,
    // whose io_context owns the signal_set, never a worker parked in epoll.
    sigset_t stop_signals, previous;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
    for (auto& w : workers_) w->start();
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  }
  log::info(log::record("ready")
                .add("services", static_cast<std::uint64_t>(runtime_->services.size()))
                .add("workers", static_cast<std::uint64_t>(workers_.size())));
  wait_for_signal();
  io_.run();
  for (auto& w : workers_) w->join();
  log::info(log::record("stopped"));
  return 0;
}

void server::wait_for_signal() {
  signals_.async_wait([this](const error_code& ec, int number) {
    if (ec) return;
    if (!draining_) {
      begin_drain(number);
    } else {
      log::warn(log::record("drain_aborted")
                    .add("signal", signal_name(number))
                    .add("connections", static_cast<std::uint64_t>(runtime_->connections.active())));
      for (auto& w : workers_) w->stop_sessions();
    }
    if (!finished_) wait_for_signal();
  });
}

void server::begin_drain(int signal_number) {
  draining_ = true;
  log::info(log::record("draining")
                .add("signal", signal_name(signal_number))
                .add("connections", static_cast<std::uint64_t>(runtime_->connections.active()))
                .add("timeout", format_duration(runtime_->server.drain_timeout)));
  busy_workers_ = workers_.size();
  // Each worker reports from its own thread; the count lives on this one.
  for (auto& w : workers_) w->begin_drain([this] { asio::post(io_, [this] { worker_idle(); }); });
  drain_timer_.expires_after(runtime_->server.drain_timeout);
  drain_timer_.async_wait([this](const error_code& ec) {
    if (ec) return;
    log::warn(log::record("drain_timeout")
                  .add("connections", static_cast<std::uint64_t>(runtime_->connections.active())));
    for (auto& w : workers_) w->stop_sessions();
  });
}

void server::worker_idle() {
  if (--busy_workers_ == 0) finish();
}

void server::finish() {
  // With the signal wait and the timer gone, run() returns; the workers'
  // loops end by themselves once their listeners and sessions are gone.
  finished_ = true;
  error_code ignored;
  signals_.cancel(ignored);
  drain_timer_.cancel();
}

}  // namespace mtlsd::proxy
