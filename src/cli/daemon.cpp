#include "cli/daemon.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <ctime>

#include "cli/file_fingerprint.hpp"
#include "cli/validated_config.hpp"
#include "mtlsd/log/logging.hpp"
#include "mtlsd/metrics/exposition.hpp"
#include "mtlsd/platform/core_dumps.hpp"
#include "mtlsd/platform/privileges.hpp"
#include "mtlsd/proxy/endpoint_text.hpp"
#include "mtlsd/proxy/upstream_check.hpp"
#include "mtlsd/tls/verified_chain_cache.hpp"

namespace mtlsd::cli {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using error_code = boost::system::error_code;

namespace {

// A burst of file events (a Secret's symlink swap, a certificate and its key
// written one after the other) settles within this; one reload follows.
constexpr auto watch_quiet_period = 500ms;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso8601_utc(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

const char* signal_name(int number) {
  switch (number) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    default: return "signal";
  }
}

// Settings bound to the process itself; a reload reports their change and
// keeps the running values.
void keep_restart_only_settings(proxy::runtime& next, const proxy::runtime& current) {
  const auto note = [](const char* key) {
    log::warn(log::record("reload_restart_required")
                  .add("key", key)
                  .add("message", "this setting takes effect at the next restart; the running value is kept"));
  };
  if (next.server.workers != current.server.workers) note("server.workers");
  if (next.server.user != current.server.user) note("server.user");
  if (next.server.group != current.server.group) note("server.group");
  if (next.server.pid_file != current.server.pid_file) note("server.pid_file");
  if (next.server.core_dumps != current.server.core_dumps) note("server.core_dumps");
  if (next.admin.listen != current.admin.listen) note("admin.listen");
  if (next.server.sandbox != current.server.sandbox) note("server.sandbox");
  if ((next.admin_tls != nullptr) != (current.admin_tls != nullptr)) {
    note("admin.cert");
    next.admin_tls = current.admin_tls;
  }
  next.server.workers = current.server.workers;
  next.server.user = current.server.user;
  next.server.group = current.server.group;
  next.server.pid_file = current.server.pid_file;
  next.server.core_dumps = current.server.core_dumps;
  next.admin.listen = current.admin.listen;
  next.server.sandbox = current.server.sandbox;
}

// The files of a loaded runtime include CRL cache files known only once a
// truststore is read; without one (a failed load), what the config names.
platform::sandbox_needs needs_of(const std::filesystem::path& config_file, std::vector<std::filesystem::path> files,
                                 const server_config& server, const proxy::runtime* rt) {
  platform::sandbox_needs needs;
  needs.config_file = config_file;
  needs.named_files = std::move(files);
  if (rt != nullptr && fetches_crls(*rt)) needs.crl_cache_dir = server.crl_cache_dir;
  needs.pid_file = server.pid_file;
  return needs;
}

}  // namespace

daemon::daemon(std::filesystem::path config_file, std::unique_ptr<proxy::runtime> first, metrics::build_info build)
    : config_file_(std::move(config_file)), first_(std::move(first)) {
  facts_.build = std::move(build);
  facts_.config_file = config_file_.string();
}

daemon::~daemon() = default;

const char* daemon::name_of(trigger why) {
  switch (why) {
    case trigger::signal: return "SIGHUP";
    case trigger::watch: return "watch";
    case trigger::interval: return "reload_interval";
    case trigger::crl_fetch: return "crl_fetch";
  }
  return "reload";
}

int daemon::run() {
  try {
    start_up();
  } catch (const std::exception& e) {
    log::error(log::record("startup_failed").add("error", e.what()));
    notify_.status(std::string("start-up failed: ") + e.what());
    return 1;
  }
  wait_for_signal();
  io_.run();
  server_.join();
  log::info(log::record("stopped"));
  return 0;
}

void daemon::start_up() {
  notify_ = platform::service_notify::from_environment();
  inherited_ = platform::inherited_sockets::from_environment();
  auto& process = metrics_.process();
  process.start_time_ms.set(unix_ms());

  std::shared_ptr<proxy::runtime> first(std::move(first_));
  proxy::adopt(*first, nullptr, metrics_);
  server_.bind(first);
  backend_tasks_.watch(*first);
  if (first->admin.listen) {
    service_config admin_address;
    admin_address.name = "admin";
    admin_address.accept = *first->admin.listen;
    const auto address = proxy::listener::resolve(io_, admin_address);
    admin_ = std::make_unique<admin::endpoint>(io_, address, first->admin_tls,
                                               [this](std::string_view path) { return serve_admin(path); });
    log::info(log::record("admin_listening")
                  .add("addr", proxy::to_text(admin_->local_endpoint()))
                  .add("tls", first->admin_tls != nullptr));
  }
  // Once every socket is bound and every key has been read.
  platform::drop_privileges(first->server.user, first->server.group);
  if (!first->server.user.empty() || !first->server.group.empty())
    log::info(log::record("privileges_dropped").add("user", first->server.user).add("group", first->server.group));
  // After the switch: changing user resets the kernel's dumpable flag.
  platform::set_core_dumps(first->server.core_dumps);
  // Written as the user mtlsd runs as, so that it can remove the file at exit:
  // a stale pid file would point `mtlsd reload` at an unrelated process.
  if (!first->server.pid_file.empty()) pid_file_ = platform::pid_file(first->server.pid_file);
  // As the user that will write it; only when something is fetched, so the
  // default directory is never required of a configuration without crl_url.
  if (fetches_crls(*first)) prepare_crl_cache_dir(first->server.crl_cache_dir);
  warn_about_unused_inherited_sockets();
  confine(*first);

  server_.start();
  if (admin_) admin_->start();
  watched_files_ = first->files;
  fingerprint_ = fingerprint(watched_files_);
  start_watching();
  rearm_reload_interval();
  rearm_watchdog();
  rearm_expiry_check();
  crl_refresh_.follow(*first);

  facts_.ready = true;
  facts_.generation = 1;
  process.config_generation.set(1);
  process.last_reload_success_ms.set(unix_ms());
  process.ready.set(1);
  log::info(log::record("ready")
                .add("services", static_cast<std::uint64_t>(first->services.size()))
                .add("workers", static_cast<std::uint64_t>(server_.worker_count())));
  notify_.ready(status_line());
  warn_about_expiring_certificates();
}

std::string daemon::status_line() const {
  const auto& rt = server_.current();
  const std::size_t connections = server_.active_connections();
  return "serving " + std::to_string(rt.services.size()) + (rt.services.size() == 1 ? " service" : " services") +
         ", configuration generation " + std::to_string(facts_.generation) + ", " + std::to_string(connections) +
         (connections == 1 ? " connection" : " connections");
}

void daemon::warn_about_unused_inherited_sockets() const {
  // The service manager keeps accepting into a socket it passed us; one that
  // no service takes leaves its clients waiting forever.
  const auto listening = server_.listening();
  for (const auto& socket : inherited_.all()) {
    const bool used = std::any_of(listening.begin(), listening.end(), [&](const proxy::listening_address& l) {
      return l.inherited && l.local == socket.local;
    });
    if (!used)
      log::warn(log::record("inherited_socket_unused")
                    .add("name", socket.name)
                    .add("addr", proxy::to_text(socket.local))
                    .add("hint", "name the socket after a service (FileDescriptorName=) or use the service's accept "
                                 "address; connections to it are never served"));
  }
}

void daemon::confine(const proxy::runtime& first) {
  if (!first.server.sandbox) {
    log::info(log::record("sandbox_disabled").add("message", "server.sandbox = false: no Landlock, no seccomp filter"));
    return;
  }
  auto paths = platform::sandbox_paths_for(needs_of(config_file_, first.files, first.server, &first));
  const auto result = platform::apply_sandbox(paths);
  for (const auto& why : result.degraded)
    log::warn(log::record("sandbox_degraded")
                  .add("reason", why)
                  .add("message", "mtlsd runs with less confinement than configured"));
  log::info(log::record("sandbox_applied")
                .add("landlock", result.landlock_abi > 0 ? "abi" + std::to_string(result.landlock_abi) : "off")
                .add("seccomp", result.seccomp ? "on" : "off")
                .add("paths", static_cast<std::uint64_t>(result.paths)));
  if (result.landlock_abi > 0) sandbox_ = std::move(paths);
}

bool daemon::refused_by_sandbox(const validated_config& loaded, const std::string& before) {
  if (!sandbox_) return false;
  auto files = loaded.runtime ? loaded.runtime->files : proxy::named_files(loaded.cfg);
  const auto needs = needs_of(config_file_, std::move(files), loaded.cfg.server, loaded.runtime.get());
  const auto blocked = platform::sandbox_blocks(*sandbox_, needs);
  if (blocked.empty()) return false;
  std::string first_error;
  for (const auto& path : blocked) {
    const std::string error = path.string() +
                              ": outside the paths the sandbox allows (fixed at start-up); restart mtlsd to use "
                              "it, or keep it in a directory the configuration already names";
    if (first_error.empty()) first_error = error;
    log::error(log::record("reload_error").add("error", error));
  }
  // Also the loader's own view (typically "Permission denied" for the same files).
  for (const auto& e : loaded.errors) log::error(log::record("reload_error").add("error", e.to_string()));
  observe_after_failure(proxy::named_files(loaded.cfg), before);
  reload_failed(first_error, blocked.size() + loaded.errors.size());
  return true;
}

void daemon::wait_for_signal() {
  signals_.async_wait([this](const error_code& ec, int number) {
    if (ec) return;
    if (number == SIGHUP) {
      reload(trigger::signal);
    } else if (!draining_) {
      begin_drain(number);
    } else {
      log::warn(log::record("drain_aborted")
                    .add("signal", signal_name(number))
                    .add("connections", static_cast<std::uint64_t>(server_.active_connections())));
      server_.stop_sessions();
    }
    if (!finished_) wait_for_signal();
  });
}

void daemon::begin_drain(int signal_number) {
  draining_ = true;
  facts_.ready = false;
  facts_.draining = true;
  metrics_.process().ready.set(0);
  metrics_.process().draining.set(1);
  notify_.stopping("draining " + std::to_string(server_.active_connections()) + " connections");
  reload_timer_.cancel();
  if (watch_) watch_->stop();
  const auto logged_once_closed = [this, signal_number] {
    // Logged once no listener accepts any more, so that whoever waits for
    // this line knows new connections are refused from then on.
    log::info(log::record("draining")
                  .add("signal", signal_name(signal_number))
                  .add("connections", static_cast<std::uint64_t>(server_.active_connections()))
                  .add("timeout", format_duration(server_.current().server.drain_timeout)));
  };
  server_.drain(logged_once_closed, [this] {
    // With nothing left pending here, run() returns; the workers' loops end
    // by themselves once their listeners and sessions are gone.
    finished_ = true;
    signals_.cancel();
    watchdog_timer_.cancel();
    expiry_timer_.cancel();
    crl_refresh_.stop();
    backend_tasks_.stop();
    if (admin_) admin_->stop();
  });
}

void daemon::reload(trigger why) {
  if (draining_) {
    log::info(log::record("reload_skipped").add("trigger", name_of(why)).add("reason", "draining"));
    return;
  }
  const auto current = server_.current_ptr();
  const std::string before = fingerprint(watched_files_);
  if (why != trigger::signal && before == fingerprint_) {
    // Nothing the configuration reads has changed. Debug only: with a
    // reload_interval this is every tick; it answers "why no reload?".
    log::debug(log::record("reload_unchanged").add("trigger", name_of(why)));
    return;
  }

  log::info(log::record("reloading").add("trigger", name_of(why)));
  notify_.reloading("reloading configuration (" + std::string(name_of(why)) + ")");
  // Chains verified under the old truststores must be verified again.
  tls::advance_configuration_epoch();
  auto loaded = load_and_validate(config_file_);
  if (refused_by_sandbox(loaded, before)) return;
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) log::error(log::record("reload_error").add("error", e.to_string()));
    // Fingerprint before saying so: whoever reacts to reload_failed by
    // fixing a file must see that fix picked up, never absorbed.
    observe_after_failure(proxy::named_files(loaded.cfg), before);
    reload_failed(loaded.errors.front().to_string(), loaded.errors.size());
    return;
  }
  std::shared_ptr<proxy::runtime> next(std::move(loaded.runtime));
  keep_restart_only_settings(*next, *current);
  proxy::adopt(*next, current.get(), metrics_);
  std::string bind_error;
  if (!server_.apply(next, bind_error)) {
    log::error(log::record("reload_error").add("error", bind_error));
    observe_after_failure(next->files, before);
    reload_failed(bind_error, 1);
    return;
  }
  if (admin_ && next->admin_tls) admin_->set_tls(next->admin_tls);
  backend_tasks_.watch(*next);
  log::setup(next->server.level, next->server.format);
  for (const auto& w : next->warnings) log::warn(log::record("config_warning").add("message", w));
  // A file changed while it was being loaded: keep the older fingerprint so
  // the change is picked up by the next check instead of being lost.
  const std::string after = fingerprint(next->files);
  fingerprint_ = (next->files == watched_files_ && after != before) ? before : after;
  watched_files_ = next->files;
  start_watching();
  if (why != trigger::interval) rearm_reload_interval();

  ++facts_.generation;
  facts_.last_reload_result = "success";
  facts_.last_reload_error.clear();
  auto& process = metrics_.process();
  process.reloads_ok.add();
  process.config_generation.set(static_cast<std::int64_t>(facts_.generation));
  process.last_reload_success_ms.set(unix_ms());
  log::info(log::record("reloaded")
                .add("generation", facts_.generation)
                .add("services", static_cast<std::uint64_t>(next->services.size()))
                .add("trigger", name_of(why)));
  crl_refresh_.follow(*next);
  // Connections accepted under the old rules are judged under the new ones.
  server_.reevaluate_live(next);
  notify_.ready(status_line());
  warn_about_expiring_certificates();
}

void daemon::reload_failed(const std::string& first_error, std::size_t count) {
  facts_.last_reload_result = "failure";
  facts_.last_reload_error = first_error;
  metrics_.process().reloads_failed.add();
  log::error(log::record("reload_failed")
                 .add("errors", static_cast<std::uint64_t>(count))
                 .add("generation", facts_.generation)
                 .add("message", "the previous configuration keeps serving"));
  notify_.ready("reload failed (" + first_error + "); " + status_line());
}

void daemon::observe_after_failure(const std::vector<std::filesystem::path>& failed_files, const std::string& before) {
  // Until a reload succeeds, also watch what the failed configuration names:
  // creating the certificate it is missing must retry the reload.
  std::vector<std::filesystem::path> files = server_.current().files;
  for (const auto& f : failed_files)
    if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
  const std::string after = fingerprint(files);
  // As after a success: a change made while loading must not be absorbed.
  fingerprint_ = (files == watched_files_ && after != before) ? before : after;
  watched_files_ = std::move(files);
  if (watch_) start_watching();
}

void daemon::start_watching() {
  const auto& rt = server_.current();
  if (!rt.server.watch) {
    if (watch_) watch_->stop();
    watch_.reset();
    return;
  }
  if (!watch_)
    watch_ = std::make_unique<platform::file_watch>(io_, std::chrono::milliseconds(watch_quiet_period),
                                                    [this] { reload(trigger::watch); });
  for (const auto& problem : watch_->watch(watched_files_))
    log::warn(log::record("watch_failed").add("error", problem));
}

void daemon::rearm_reload_interval() {
  const auto& interval = server_.current().server.reload_interval;
  if (!interval || draining_) {
    reload_timer_.cancel();
    return;
  }
  reload_timer_.expires_after(*interval);
  reload_timer_.async_wait([this](const error_code& ec) {
    if (ec) return;
    reload(trigger::interval);
    rearm_reload_interval();
  });
}

void daemon::rearm_watchdog() {
  const auto timeout = notify_.watchdog_timeout();
  if (!timeout) return;
  watchdog_timer_.expires_after(*timeout / 2);
  watchdog_timer_.async_wait([this](const error_code& ec) {
    if (ec) return;
    if (draining_) {
      notify_.watchdog();  // workers may have finished already
    } else {
      // Only when every worker's event loop has run a task: a stuck worker
      // lets the watchdog fire and the service manager restart us.
      server_.ping_workers([this] { notify_.watchdog(); });
    }
    rearm_watchdog();
  });
}

void daemon::warn_about_expiring_certificates() {
  const auto window = std::chrono::duration_cast<std::chrono::seconds>(server_.current().server.expiry_warning);
  if (window.count() == 0) return;
  const std::int64_t now = unix_ms() / 1000;
  for (const auto& cert : admin::loaded_certificates(server_.current())) {
    const std::int64_t left = cert.not_after_seconds - now;
    if (left > window.count()) continue;
    log::warn(log::record("certificate_expiring")
                  .add("svc", cert.service)
                  .add("role", cert.role)
                  .add("subject", cert.subject)
                  .add("not_after", iso8601_utc(cert.not_after_seconds))
                  // Negative once expired: the same line keeps saying so.
                  .add("days_left", left >= 0 ? left / 86400 : -((-left + 86399) / 86400)));
  }
}

void daemon::rearm_expiry_check() {
  // Daily, so a certificate that enters the window while nothing reloads is
  // still reported (the metric mtlsd_certificate_not_after_seconds is the
  // one to alert on; this line is for whoever reads the log).
  expiry_timer_.expires_after(std::chrono::hours(24));
  expiry_timer_.async_wait([this](const error_code& ec) {
    if (ec) return;
    warn_about_expiring_certificates();
    rearm_expiry_check();
  });
}

admin::response daemon::serve_admin(std::string_view path) {
  if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/readyz") {
    if (facts_.ready) return {200, "text/plain; charset=utf-8", "ready\n"};
    return {503, "text/plain; charset=utf-8", facts_.draining ? "draining\n" : "starting\n"};
  }
  if (path == "/metrics")
    return {200, "text/plain; version=0.0.4; charset=utf-8",
            metrics::render(metrics_, admin::loaded_certificates(server_.current()), facts_.build,
                            admin::loaded_crls(server_.current()), crl_refresh_.statuses())};
  if (path == "/status") return {200, "application/json", admin::status_json(server_, metrics_, facts_) + "\n"};
  return {404, "text/plain; charset=utf-8", "not found; try /healthz, /readyz, /metrics or /status\n"};
}

proxy::backend_tasks::check_step_fn daemon::upstream_check_step() {
  return [this](asio::ip::tcp::socket& socket, const proxy::backend_member& member, const proxy::backend_pool& pool,
                std::chrono::steady_clock::time_point deadline) {
    // The pool outlives generations; its service's current context is the
    // one new connections use, so a reloaded truststore or client
    // certificate is what the next check tries.
    std::shared_ptr<const tls::client_context> context;
    if (const auto current = server_.current_ptr())
      for (const auto& service : current->services)
        if (service->backends.get() == &pool) context = service->upstream_tls;
    return proxy::upstream_tls_check(socket, std::move(context), member, deadline, pool.settings().connect_timeout);
  };
}

}  // namespace mtlsd::cli
