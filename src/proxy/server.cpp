#include "mtlsd/proxy/server.hpp"

#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <csignal>

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

}  // namespace

server::server(std::unique_ptr<runtime> rt) : runtime_(std::move(rt)) {}

void server::bind() {
  raise_descriptor_limit(runtime_->server.max_connections);
  for (const auto& service : runtime_->services)
    listeners_.push_back(std::make_unique<listener>(io_, *runtime_, service, registry_));
}

int server::run() {
  for (const auto& l : listeners_) {
    log::info(log::record("listening")
                  .add("svc", l->service().config.name)
                  .add("addr", to_text(l->local_endpoint()))
                  .add("tls", l->service().tls != nullptr)
                  .add("backend", l->service().config.connect.host_port()));
    asio::co_spawn(io_, l->accept_loop(), asio::detached);
  }
  log::info(log::record("ready").add("services", static_cast<std::uint64_t>(listeners_.size())));
  wait_for_signal();
  io_.run();
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
                    .add("connections", static_cast<std::uint64_t>(registry_.size())));
      registry_.stop_all();
    }
    if (!finished_) wait_for_signal();
  });
}

void server::begin_drain(int signal_number) {
  draining_ = true;
  for (auto& l : listeners_) l->close();
  const auto live = registry_.size();
  log::info(log::record("draining")
                .add("signal", signal_name(signal_number))
                .add("connections", static_cast<std::uint64_t>(live))
                .add("timeout", format_duration(runtime_->server.drain_timeout)));
  if (live == 0) return finish();
  registry_.when_empty([this] { finish(); });
  drain_timer_.expires_after(runtime_->server.drain_timeout);
  drain_timer_.async_wait([this](const error_code& ec) {
    if (ec) return;
    log::warn(log::record("drain_timeout").add("connections", static_cast<std::uint64_t>(registry_.size())));
    registry_.stop_all();
  });
}

void server::finish() {
  // With the listeners, the signal wait and the timer gone, run() returns as
  // soon as the last session's coroutine has completed.
  finished_ = true;
  error_code ignored;
  signals_.cancel(ignored);
  drain_timer_.cancel();
}

}  // namespace mtlsd::proxy
