#include "mtlsd/proxy/session.hpp"

#include <openssl/err.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <ctime>
#include <map>

#include "mtlsd/log/logging.hpp"
#include "mtlsd/proxy/endpoint_text.hpp"

namespace mtlsd::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using clock = std::chrono::steady_clock;

namespace {

// After refusing a client, how long (and how much) we keep reading before
// closing. Closing a socket with unread input makes the kernel send RST,
// which can overtake our alert; a TLS 1.3 client has usually sent its first
// request by then, so without this it would see "connection reset" instead of
// the reason.
constexpr auto linger_time = std::chrono::seconds(1);
constexpr std::size_t linger_max_bytes = 64 * 1024;

std::vector<std::string> sans_of(const client_identity& id) {
  std::vector<std::string> sans;
  for (const auto& v : id.dns) sans.push_back("dns:" + v);
  for (const auto& v : id.uri) sans.push_back("uri:" + v);
  for (const auto& v : id.ip) sans.push_back("ip:" + v);
  for (const auto& v : id.email) sans.push_back("email:" + v);
  return sans;
}

}  // namespace

std::string_view to_string(close_reason reason) {
  switch (reason) {
    case close_reason::none: return "none";
    case close_reason::client_closed: return "client_closed";
    case close_reason::backend_closed: return "backend_closed";
    case close_reason::idle_timeout: return "idle_timeout";
    case close_reason::handshake_failed: return "handshake_failed";
    case close_reason::backend_unreachable: return "backend_unreachable";
    case close_reason::backend_connect_timeout: return "backend_connect_timeout";
    case close_reason::client_error: return "client_error";
    case close_reason::backend_error: return "backend_error";
    case close_reason::shutdown: return "shutdown";
    case close_reason::max_connections: return "max_connections";
    case close_reason::reevaluated: return "reevaluated";
    case close_reason::proxy_header_invalid: return "proxy_header_invalid";
    case close_reason::backend_handshake_failed: return "backend_handshake_failed";
  }
  return "none";
}

void session_registry::remove(session* s) {
  sessions_.erase(s);
  if (sessions_.empty() && when_empty_) {
    auto callback = std::move(when_empty_);
    when_empty_ = nullptr;
    callback();
  }
}

void session_registry::reevaluate_all(const std::shared_ptr<const runtime>& next) {
  // One judge per service for the whole pass: connections of one client
  // share a verdict instead of each paying for a chain verification.
  std::map<std::string, tls::live_judge> by_name;
  for (const auto& service : next->services)
    if (service->tls && service->tls->reevaluate_live())
      by_name.emplace(service->config.name, tls::live_judge(*service->tls));
  if (by_name.empty()) return;
  // Refused sessions only cancel their I/O here and leave the registry
  // later, from their own handlers, so iterating is safe (as in stop_all).
  for (auto* s : sessions_) {
    const auto it = by_name.find(s->service_name());
    s->reevaluate(next, it == by_name.end() ? nullptr : &it->second);
  }
}

void session_registry::stop_all() {
  // stop() only cancels I/O; sessions leave the registry later, from their own
  // coroutines, so iterating here is safe.
  for (auto* s : sessions_) s->stop();
}

std::uint64_t session::next_id() {
  static std::atomic<std::uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

session::session(tcp::socket client, std::shared_ptr<const service_group> services, connection_slot slot,
                 session_registry& registry)
    : id_(next_id()),
      services_(std::move(services)),
      service_(services_->front()),
      slot_(std::move(slot)),
      registry_(registry),
      client_socket_(std::move(client)),
      backend_socket_(client_socket_.get_executor()),
      watchdog_(client_socket_.get_executor()),
      started_(clock::now()),
      last_activity_(started_) {
  error_code ec;
  const auto remote = client_socket_.remote_endpoint(ec);
  peer_ = ec ? "unknown" : to_text(remote);
  registry_.add(this);
  service_->metrics->active.add();
}

session::~session() {
  service_->metrics->active.sub();
  registry_.remove(this);
}

asio::awaitable<void> session::run() {
  auto self = shared_from_this();
  if (service_->config.accept_proxy_protocol && !co_await read_proxy_header()) {
    finish();
    co_return;
  }
  if (service_->tls) {
    co_await run_tls();
  } else {
    auto& client = client_tcp_.emplace(std::move(client_socket_));
    co_await connect_then_relay(client);
  }
  // Once splicing started, the relay's callbacks keep the session and finish
  // it (possibly already, if both directions ended at once).
  if (phase_ != phase::splice) finish();
}

void session::finish() {
  if (phase_ == phase::done) return;
  phase_ = phase::done;
  watchdog_.cancel();
  // Before the access line: whoever sees the line (a test, a least_connections
  // pick on another worker) must find the backend no longer counting it.
  backend_lease_.release();
  abort_stuck_backend();
  const bool closing = close_reason_ == close_reason::idle_timeout || ended_by_us();
  if (closing && client_tls_ && !tls_version_.empty()) client_tls_->try_close_notify();
  log_access();
}

asio::awaitable<void> session::run_tls() {
  verdict_.context = service_->tls.get();
  ossl::ssl_ptr ssl(SSL_new(service_->tls->native()));
  if (!ssl) {
    verdict_.refuse(rejection_reason::other, "cannot create a TLS session: " + ossl::drain_errors());
    log_handshake_failure();
    end(close_reason::handshake_failed);
    co_return;
  }
  verdict_.routes = services_->routes();
  tls::attach(ssl.get(), &verdict_);
  auto& client = client_tls_.emplace(std::move(client_socket_), std::move(ssl));
  enter(phase::handshake, started_ + service_->config.handshake_timeout);

  const error_code ec = co_await client.accept();
  tls::attach(client.native(), nullptr);  // the verdict is not consulted after the handshake
  const bool within_limit = settle_service(!ec);
  auto& counts = *service_->metrics;
  if (ec) {
    if (close_reason_ == close_reason::shutdown) {
      ERR_clear_error();
      co_return;
    }
    if (deadline_passed_) {
      ERR_clear_error();
      verdict_.refuse(rejection_reason::timeout, "handshake not completed within " +
                                                     format_duration(service_->config.handshake_timeout));
    } else if (BIO_number_read(SSL_get_rbio(client.native())) == 0) {
      ERR_clear_error();
      silent_probe_ = true;
      verdict_.refuse(rejection_reason::other, "client closed the connection without sending a ClientHello");
    } else {
      tls::explain_failure(client.native(), verdict_);
    }
    if (silent_probe_) {
      counts.silent_closes.add();
    } else {
      counts.handshake_failures[static_cast<std::size_t>(verdict_.reason)].add();
      counts.handshake_duration.observe(clock::now() - started_);
    }
    log_handshake_failure();
    end(close_reason::handshake_failed);
    co_await linger(client.socket());
    co_return;
  }
  if (SSL_session_reused(client.native()) == 1 && service_->tls->recheck_resumed(std::time(nullptr))) {
    // A resumed session skips verification, and the session context only
    // tracks which CRLs are loaded, not that one of them has gone stale
    // since: judge the client as a new one would be (crl_stale = "reject").
    tls::live_judge judge(*service_->tls);
    const tls::live_verdict fresh = judge.judge(client.native());
    if (!fresh.admitted) {
      verdict_.refuse(fresh.reason, fresh.detail);
      if (X509* peer = SSL_get0_peer_certificate(client.native())) verdict_.identity = extract_identity(peer);
      counts.handshake_failures[static_cast<std::size_t>(verdict_.reason)].add();
      counts.handshake_duration.observe(clock::now() - started_);
      log_handshake_failure();
      end(close_reason::handshake_failed);
      client.try_close_notify();
      co_await linger(client.socket());
      co_return;
    }
  }
  counts.handshakes_ok.add();
  counts.handshake_duration.observe(clock::now() - started_);
  record_tls_details();
  if (!within_limit) {
    refuse_over_service_limit();
    if (client.shutdown_now().status == io_status::done) co_await linger(client.socket());
    co_return;
  }
  if (reevaluate_after_handshake_) {
    // A reload came while this handshake ran under the older rules.
    const auto next = std::move(reevaluate_after_handshake_);
    for (const auto& service : next->services) {
      if (service->config.name != service_->config.name || !service->tls || !service->tls->reevaluate_live()) continue;
      tls::live_judge judge(*service->tls);
      if (close_if_refused(judge.judge(client.native()))) co_return;
    }
  }
  co_await connect_then_relay(client);
}

bool session::settle_service(bool handshake_ok) {
  server_name_ = verdict_.server_name;
  if (!verdict_.routes) return true;
  if (const auto& owner = services_->owner_of(verdict_.context); owner != service_) {
    service_->metrics->active.sub();
    service_ = owner;
    service_->metrics->active.add();
  }
  service_->metrics->accepted.add();
  return !handshake_ok || slot_.add_service(*service_->connections);
}

void session::refuse_over_service_limit() {
  service_->metrics->refused_limit.add();
  log::warn(log::record("connection_refused")
                .add("svc", service_->config.name)
                .add("peer", peer_)
                .add("reason", "max_connections")
                .add("limit", "service")
                .add("max", static_cast<std::uint64_t>(service_->connections->max())));
  end(close_reason::max_connections);
}

void session::record_tls_details() {
  SSL* ssl = client_tls_->native();
  tls_version_ = SSL_get_version(ssl);
  cipher_ = SSL_get_cipher_name(ssl);
  if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name); name && server_name_.empty())
    server_name_ = name;
  // A resumed session skips the verify callback; the certificate is still in the session.
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer && !verdict_.identity) verdict_.identity = extract_identity(peer);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_size = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_size);
  if (alpn_size > 0) alpn_.assign(reinterpret_cast<const char*>(alpn), alpn_size);
  if (service_->config.verify_client == verify_client_mode::none)
    verify_status_ = "none";
  else
    verify_status_ = peer ? "ok" : "anonymous";
}

asio::awaitable<void> session::linger(tcp::socket& socket) {
  error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  enter(phase::linger, clock::now() + linger_time);
  char discard[4096];
  for (std::size_t total = 0; total < linger_max_bytes && !deadline_passed_;) {
    auto [read_ec, n] = co_await socket.async_read_some(asio::buffer(discard), asio::as_tuple(asio::use_awaitable));
    if (read_ec) break;
    total += n;
  }
}

void session::start_relay(byte_stream& client) {
  last_activity_ = clock::now();
  enter(phase::splice, last_activity_ + service_->config.idle_timeout);
  relays_running_ = 2;
  byte_stream& backend = backend_stream();
  auto& upstream = upstream_.emplace(client, backend, last_activity_, service_->metrics->bytes_client_to_backend);
  auto& downstream = downstream_.emplace(backend, client, last_activity_, service_->metrics->bytes_backend_to_client);
  upstream.start(shared_from_this(), &session::upstream_ended, this);
  downstream.start(shared_from_this(), &session::downstream_ended, this);
}

void session::upstream_ended(void* self, relay_end how) { static_cast<session*>(self)->relay_ended(true, how); }

void session::downstream_ended(void* self, relay_end how) { static_cast<session*>(self)->relay_ended(false, how); }

void session::relay_ended(bool client_to_backend, relay_end how) {
  if (client_to_backend)
    bytes_from_client_ = upstream_->bytes();
  else
    bytes_to_client_ = downstream_->bytes();
  if (how != relay_end::source_eof && backend_tls_ && downstream_->bytes() == 0 &&
      close_reason_ == close_reason::none) {
    // TLS 1.3: the backend judges our certificate after our handshake
    // finished; its refusal arrives as an alert on the first read — or
    // our first write meets its reset while that alert is still unread.
    if (const int alert = tls::received_alert(backend_tls_->native(), client_to_backend); alert >= 0) {
      const auto failure = tls::explain_upstream_failure(backend_tls_->native(),
                                                         service_->upstream_tls->server_name_for(backend_host_));
      service_->metrics->upstream_handshake_failures[static_cast<std::size_t>(failure.reason)].add();
      log_upstream_failure(failure.reason, failure.detail);
      end(close_reason::backend_handshake_failed);
    }
  }
  if (how != relay_end::source_eof && close_reason_ == close_reason::none) {
    const auto& error = (client_to_backend ? *upstream_ : *downstream_).error();
    if (error) close_error_ = error.message();
  }
  switch (how) {
    case relay_end::source_eof:
      end(client_to_backend ? close_reason::client_closed : close_reason::backend_closed);
      break;
    case relay_end::source_error:
      end(client_to_backend ? close_reason::client_error : close_reason::backend_error);
      cancel_client();
      cancel_backend();
      break;
    case relay_end::sink_error:
      end(client_to_backend ? close_reason::backend_error : close_reason::client_error);
      cancel_client();
      cancel_backend();
      break;
  }
  if (--relays_running_ == 0) finish();
}

void session::enter(phase p, clock::time_point deadline) {
  phase_ = p;
  deadline_passed_ = false;
  arm_watchdog(deadline);
}

void session::arm_watchdog(clock::time_point deadline) {
  watchdog_.expires_at(deadline);
  watchdog_.async_wait([weak = weak_from_this()](const error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_watchdog();
  });
}

void session::on_watchdog() {
  switch (phase_) {
    case phase::handshake:
      deadline_passed_ = true;
      cancel_client();
      break;
    case phase::connect:
      deadline_passed_ = true;
      cancel_backend();
      break;
    case phase::splice: {
      // Activity only moves a timestamp; the timer re-arms here, so busy
      // connections cost no timer operation per read or write.
      const auto idle_until = last_activity_ + service_->config.idle_timeout;
      if (clock::now() < idle_until) return arm_watchdog(idle_until);
      end(close_reason::idle_timeout);
      cancel_client();
      cancel_backend();
      break;
    }
    case phase::linger:
      deadline_passed_ = true;
      cancel_client();
      break;
    case phase::done:
      break;
  }
}

void session::stop() {
  end(close_reason::shutdown);
  cancel_client();
  cancel_backend();
}

void session::reevaluate(const std::shared_ptr<const runtime>& next, tls::live_judge* judge) {
  if (!client_tls_ || close_reason_ != close_reason::none) return;
  if (phase_ == phase::handshake) {
    reevaluate_after_handshake_ = next;
    return;
  }
  if (!judge || (phase_ != phase::connect && phase_ != phase::splice)) return;
  close_if_refused(judge->judge(client_tls_->native()));
}

bool session::close_if_refused(const tls::live_verdict& verdict) {
  if (verdict.admitted) return false;
  live_rejection_ = verdict.reason;
  service_->metrics->live_rejections[static_cast<std::size_t>(verdict.reason)].add();
  log::warn(log::record("live_connection_rejected")
                .add("conn", id_)
                .add("svc", service_->config.name)
                .add("peer", peer_)
                .add("reason", to_string(verdict.reason))
                .add("detail", verdict.detail));
  end(close_reason::reevaluated);
  cancel_client();
  cancel_backend();
  return true;
}

void session::end(close_reason why) {
  if (close_reason_ == close_reason::none) close_reason_ = why;
}

void session::cancel_client() {
  error_code ignored;
  if (client_tls_) client_tls_->cancel();
  if (client_tcp_) client_tcp_->cancel();
  client_socket_.cancel(ignored);
}

void session::cancel_backend() {
  error_code ignored;
  if (backend_) backend_->cancel();
  if (backend_tls_) backend_tls_->cancel();
  backend_socket_.cancel(ignored);
  if (resolver_) resolver_->cancel();
}

void session::log_handshake_failure() const {
  // Load-balancer TCP checks and port scans connect and close without a byte;
  // they are not failed handshakes worth a warning every few seconds.
  log::emit(silent_probe_ ? log_level::info : log_level::warn, log::record("handshake_failed")
                .add("conn", id_)
                .add("svc", service_->config.name)
                .add("peer", peer_)
                .add("reason", to_string(verdict_.reason))
                .add("detail", verdict_.detail));
}

void session::log_access() const {
  log::record r("access");
  r.add("conn", id_).add("svc", service_->config.name).add("peer", peer_);
  if (!real_peer_.empty()) r.add("via", real_peer_);
  if (service_->tls) {
    r.add("tls_version", tls_version_.empty() ? "-" : tls_version_)
        .add("cipher", cipher_.empty() ? "-" : cipher_);
    if (!server_name_.empty()) r.add("sni", server_name_);
    r.add("verify", close_reason_ == close_reason::handshake_failed ? "failed" : verify_status_);
    if (verdict_.identity) {
      const auto& id = *verdict_.identity;
      r.add("subject", id.subject).add("issuer", id.issuer).add("sans", sans_of(id)).add("sha256", id.sha256);
    }
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started_);
  r.add("backend", backend_text_.empty() ? "-" : backend_text_)
      .add("bytes_from_client", bytes_from_client_)
      .add("bytes_to_client", bytes_to_client_)
      .add("duration_ms", static_cast<std::int64_t>(elapsed.count()))
      .add("close", to_string(close_reason_));
  if (close_reason_ == close_reason::handshake_failed) r.add("reason", to_string(verdict_.reason));
  if (close_reason_ == close_reason::reevaluated) r.add("reason", to_string(live_rejection_));
  if (close_reason_ == close_reason::backend_handshake_failed) r.add("reason", to_string(upstream_rejection_));
  if (!close_error_.empty() &&
      (close_reason_ == close_reason::client_error || close_reason_ == close_reason::backend_error))
    r.add("error", close_error_);
  if (!alpn_.empty()) r.add("alpn", alpn_);
  if (backend_tls_ && close_reason_ != close_reason::backend_handshake_failed)
    r.add("upstream_resumed", upstream_resumed_);
  log::info(r);
}

}  // namespace mtlsd::proxy
