// The connect phase of a session: pick a backend and connect (retrying
// others), send the PROXY header, make the TLS handshake with a tls://
// backend. Part of proxy::session (session.hpp); split out to keep each
// phase of a connection in a file of its own.
#include <openssl/err.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mtlsd/log/logging.hpp"
#include "mtlsd/platform/descriptors.hpp"
#include "mtlsd/proxy/endpoint_text.hpp"
#include "mtlsd/proxy/session.hpp"

namespace mtlsd::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using clock = std::chrono::steady_clock;

asio::awaitable<void> session::connect_then_relay(byte_stream& client) {
  const auto connect_started = clock::now();
  connect_deadline_ = connect_started + service_->config.connect_timeout;
  enter(phase::connect, connect_deadline_);
  // A tls:// backend whose handshake fails is a failed backend like one that
  // refuses the connect: the next one is tried while attempts remain.
  for (;;) {
    if (co_await connect_backend_once(client)) co_return;
    if (!service_->upstream_tls) break;
    const upstream_result result = co_await upstream_handshake();
    if (result == upstream_result::established) break;
    if (result == upstream_result::failed) {
      if (!ended_by_us() && client.shutdown_now().status == io_status::done) co_await linger(client.socket());
      co_return;
    }
  }
  start_relay(client);
}

asio::awaitable<bool> session::connect_backend_once(byte_stream& client) {
  const auto connect_started = clock::now();
  const error_code ec = co_await connect_backend();
  if (ec) {
    if (ended_by_us()) co_return true;
    service_->metrics->backend_connect_failures.add();
    const auto why = deadline_passed_ ? close_reason::backend_connect_timeout : close_reason::backend_unreachable;
    log::warn(log::record("backend_connect_failed")
                  .add("conn", id_)
                  .add("svc", service_->config.name)
                  .add("peer", peer_)
                  .add("backend", backend_text_)
                  .add("error", deadline_passed_ ? "no connection within " +
                                                       format_duration(service_->config.connect_timeout)
                                                 : ec.message()));
    end(why);
    // Tell the client we are done rather than leave it waiting.
    if (client.shutdown_now().status == io_status::done) co_await linger(client.socket());
    co_return true;
  }
  service_->metrics->backend_connects_ok.add();
  service_->metrics->backend_connect_duration.observe(clock::now() - connect_started);
  if (const error_code sent = co_await send_proxy_header(); sent) {
    if (ended_by_us()) co_return true;
    log::warn(log::record("backend_proxy_header_failed")
                  .add("conn", id_)
                  .add("svc", service_->config.name)
                  .add("peer", peer_)
                  .add("backend", backend_text_)
                  .add("error", deadline_passed_ ? "not sent within connect_timeout" : sent.message()));
    end(close_reason::backend_error);
    if (client.shutdown_now().status == io_status::done) co_await linger(client.socket());
    co_return true;
  }
  co_return false;
}

byte_stream& session::backend_stream() {
  if (backend_tls_) return *backend_tls_;
  return *backend_;
}

asio::awaitable<session::upstream_result> session::upstream_handshake() {
  const auto& context = *service_->upstream_tls;
  error_code ignored;
  const auto remote = backend_->socket().remote_endpoint(ignored);
  ossl::ssl_ptr ssl = context.new_ssl(backend_host_, to_text(remote), alpn_);
  if (!ssl) {
    log_upstream_failure(rejection_reason::other, "cannot create a TLS session: " + ossl::drain_errors());
    end(close_reason::backend_handshake_failed);
    co_return upstream_result::failed;
  }
  {
    auto& backend = backend_tls_.emplace(std::move(backend_->socket()), std::move(ssl));
    backend_.reset();
    const error_code ec = co_await backend.connect();
    if (!ec) {
      upstream_resumed_ = SSL_session_reused(backend.native()) == 1;
      service_->metrics->upstream_handshakes_ok.add();
      if (upstream_resumed_) service_->metrics->upstream_handshakes_resumed.add();
      co_return upstream_result::established;
    }
    if (ended_by_us()) {
      ERR_clear_error();
      co_return upstream_result::failed;
    }
    tls::upstream_failure failure;
    if (deadline_passed_) {
      ERR_clear_error();
      failure = {rejection_reason::timeout, "TLS handshake with the backend not completed within connect_timeout (" +
                                                format_duration(service_->config.connect_timeout) + ")"};
    } else {
      failure = tls::explain_upstream_failure(backend.native(), context.server_name_for(backend_host_));
    }
    service_->metrics->upstream_handshake_failures[static_cast<std::size_t>(failure.reason)].add();
    log_upstream_failure(failure.reason, failure.detail);
    if (!deadline_passed_ && tried_backends_.size() < service_->backends->attempts_allowed()) {
      service_->backends->report_failure(*backend_lease_.get(), "TLS handshake failed: " + failure.detail);
      backend_lease_.release();
      backend_tls_.reset();
      co_return upstream_result::retry;
    }
  }
  end(close_reason::backend_handshake_failed);
  co_return upstream_result::failed;
}

void session::log_upstream_failure(rejection_reason reason, const std::string& detail) {
  upstream_rejection_ = reason;
  log::warn(log::record("upstream_handshake_failed")
                .add("conn", id_)
                .add("svc", service_->config.name)
                .add("peer", peer_)
                .add("backend", backend_text_)
                .add("reason", to_string(reason))
                .add("detail", detail));
}

asio::awaitable<error_code> session::connect_backend() {
  // Several backends (backend_pool.hpp): a failed attempt is retried on
  // another member, up to connect_retries more, so that the client never sees
  // a failure another backend could absorb. connect_timeout bounds the whole
  // phase; each attempt gets an even share of what is left, so one
  // black-holed backend cannot use up the time the others would need.
  auto& pool = *service_->backends;
  const auto overall = connect_deadline_;
  backend_text_ = service_->config.connect.front().host_port();
  auto& tried = tried_backends_;
  error_code ec = asio::error::host_not_found;
  bool looked_up = false;
  while (!ended_by_us()) {
    auto member = pool.pick(tried);
    if (!member && !looked_up) {
      // Host names the background lookup has not answered yet (start-up).
      looked_up = true;
      for (const auto& name : pool.unresolved()) {
        auto& resolver = resolver_.emplace(backend_socket_.get_executor());
        auto [resolve_ec, results] = co_await resolver.async_resolve(name.host, std::to_string(name.port),
                                                                     asio::as_tuple(asio::use_awaitable));
        if (deadline_passed_ || ended_by_us()) co_return asio::error::operation_aborted;
        if (resolve_ec) {
          ec = resolve_ec;
          continue;
        }
        std::vector<tcp::endpoint> found;
        for (const auto& entry : results) found.push_back(entry.endpoint());
        pool.learn(name.host, name.port, found);
      }
      continue;
    }
    if (!member || tried.size() >= pool.attempts_allowed()) break;
    tried.push_back(member.get());
    backend_text_ = member->text();
    backend_host_ = member->host();
    backend_lease_ = backend_lease(member);
    const auto now = clock::now();
    const auto attempts_left = static_cast<clock::rep>(pool.attempts_allowed() - tried.size() + 1);
    enter(phase::connect, now + (overall - now) / std::max<clock::rep>(attempts_left, 1));
    error_code ignored;
    backend_socket_.close(ignored);
    auto [connect_ec] =
        co_await backend_socket_.async_connect(member->endpoint(), asio::as_tuple(asio::use_awaitable));
    ec = connect_ec;
    if (ended_by_us()) co_return asio::error::operation_aborted;
    const bool attempt_timed_out = deadline_passed_;
    if (!ec && !attempt_timed_out) {
      pool.report_success(*member);
      // Later steps (upstream TLS, PROXY header) keep the phase's own deadline.
      enter(phase::connect, overall);
      error_code no_delay_ignored;
      backend_socket_.set_option(tcp::no_delay(true), no_delay_ignored);
      backend_.emplace(std::move(backend_socket_));
      co_return error_code{};
    }
    if (attempt_timed_out) ec = asio::error::timed_out;
    if (platform::out_of_descriptors(ec)) {
      // No socket could be opened: our shortage, not the backend's. Judging
      // the backend for it would take healthy backends out of rotation (and
      // another backend would fail the same way), so neither happens.
      backend_lease_.release();
      break;
    }
    const std::string error = attempt_timed_out ? "no connection within its share of connect_timeout" : ec.message();
    pool.report_failure(*member, error);
    backend_lease_.release();
    if (clock::now() >= overall) {
      deadline_passed_ = true;
      break;
    }
    if (tried.size() < pool.attempts_allowed())
      log::info(log::record("backend_retry")
                    .add("conn", id_)
                    .add("svc", service_->config.name)
                    .add("backend", backend_text_)
                    .add("error", error));
    deadline_passed_ = false;
  }
  co_return ec ? ec : asio::error::operation_aborted;
}

}  // namespace mtlsd::proxy
