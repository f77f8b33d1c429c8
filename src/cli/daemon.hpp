#pragma once
// `mtlsd run`: everything around the data plane, on the main thread's
// io_context — signals (SIGTERM/SIGINT drain, SIGHUP reloads), reloads from
// the file watch or the reload interval, the admin endpoint, the service
// manager's notifications and watchdog, the pid file and the switch to an
// unprivileged user. The workers (proxy::server) carry the connections.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "cli/validated_config.hpp"
#include "mtlsd/admin/endpoint.hpp"
#include "mtlsd/admin/status.hpp"
#include "mtlsd/cli/crl_refresh.hpp"
#include "mtlsd/metrics/metrics.hpp"
#include "mtlsd/platform/file_watch.hpp"
#include "mtlsd/platform/inherited_sockets.hpp"
#include "mtlsd/platform/pid_file.hpp"
#include "mtlsd/platform/sandbox.hpp"
#include "mtlsd/platform/service_notify.hpp"
#include "mtlsd/platform/signal_reader.hpp"
#include "mtlsd/proxy/backend_tasks.hpp"
#include "mtlsd/proxy/server.hpp"

namespace mtlsd::cli {

class daemon {
 public:
  // `first` is the validated configuration loaded from `config_file`.
  daemon(std::filesystem::path config_file, std::unique_ptr<proxy::runtime> first, metrics::build_info build);
  ~daemon();

  // Binds, serves until stopped and drained; returns the exit code. The
  // caller blocks SIGHUP until here (see cli.cpp): from construction on the
  // signal reader takes it, and a reload or stop asked for during start-up
  // runs once the daemon is ready.
  int run();

 private:
  enum class trigger { signal, watch, interval, crl_fetch };
  static const char* name_of(trigger why);

  void start_up();
  void wait_for_signal();
  void begin_drain(int signal_number);
  void reload(trigger why);
  void reload_failed(const std::string& first_error, std::size_t count);
  void rearm_reload_interval();
  void rearm_watchdog();
  void warn_about_expiring_certificates();
  void rearm_expiry_check();
  void start_watching();
  void observe_after_failure(const std::vector<std::filesystem::path>& failed_files, const std::string& before);
  admin::response serve_admin(std::string_view path);
  // The health checks' TLS handshake for tls:// backends, with the serving
  // generation's upstream client context of the pool's service.
  proxy::backend_tasks::check_step_fn upstream_check_step();
  std::string status_line() const;
  void warn_about_unused_inherited_sockets() const;
  // [server] sandbox, once everything is bound, read and written, before
  // any worker thread exists (Landlock covers the calling thread and the
  // threads it creates afterwards).
  void confine(const proxy::runtime& first);
  // A reload needing a file the running Landlock rules do not cover is
  // refused with a reload_error per file; true when so.
  bool refused_by_sandbox(const validated_config& loaded, const std::string& before);

  std::filesystem::path config_file_;
  boost::asio::io_context io_{1};
  metrics::registry metrics_;
  admin::daemon_facts facts_;
  platform::service_notify notify_;
  platform::inherited_sockets inherited_;
  std::unique_ptr<proxy::runtime> first_;  // until bound
  proxy::server server_{io_, inherited_};
  std::unique_ptr<admin::endpoint> admin_;
  std::unique_ptr<platform::file_watch> watch_;
  platform::pid_file pid_file_;
  // The files whose content decides whether a watch or interval check
  // reloads: the serving generation's, plus after a failed reload those the
  // failed configuration names; and their fingerprint when last loaded.
  std::vector<std::filesystem::path> watched_files_;
  std::string fingerprint_;
  // Before any worker thread starts, so that every thread blocks them.
  platform::signal_reader signals_{io_, {SIGINT, SIGTERM, SIGHUP}};
  boost::asio::steady_timer reload_timer_{io_};
  boost::asio::steady_timer watchdog_timer_{io_};
  boost::asio::steady_timer expiry_timer_{io_};
  // Re-resolution and health checks of every service's backends, on io_.
  proxy::backend_tasks backend_tasks_{io_.get_executor(), {}, upstream_check_step()};
  bool draining_ = false;
  bool finished_ = false;
  // CRLs fetched over HTTP; a replaced cached copy triggers reload(crl_fetch).
  crl_refresher crl_refresh_{io_, [this] { reload(trigger::crl_fetch); }};
  // The paths the Landlock rules allow; nullopt when Landlock is not applied.
  std::optional<platform::sandbox_paths> sandbox_;
};

}  // namespace mtlsd::cli
