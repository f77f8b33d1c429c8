#include "mtlsd/cli/cli.hpp"

#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/check.hpp"
#include "cli/daemon.hpp"
#include "cli/validated_config.hpp"
#include "mtlsd/cli/verify.hpp"
#include "mtlsd/log/logging.hpp"
#include "mtlsd/platform/core_dumps.hpp"
#include "mtlsd/platform/pid_file.hpp"

namespace mtlsd::cli {
namespace {

constexpr const char* default_config = "/etc/mtlsd/mtlsd.toml";

constexpr const char* main_help =
    "mtlsd - mutual-TLS terminating proxy\n"
    "\n"
    "Usage:\n"
    "  mtlsd [run] --config FILE     run in the foreground, logging to stderr\n"
    "  mtlsd check --config FILE     validate FILE and everything it names, print a summary\n"
    "  mtlsd reload --pid-file FILE  ask the running mtlsd to reload (SIGHUP); or --config FILE\n"
    "                                to use its [server] pid_file\n"
    "  mtlsd verify --config FILE --service NAME CHAIN.pem\n"
    "                                judge a client certificate chain as the service would\n"
    "  mtlsd version                 print the version\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   configuration file (default /etc/mtlsd/mtlsd.toml)\n"
    "  -h, --help          help for the command\n"
    "  -V, --version       print the version\n"
    "\n"
    "Run 'mtlsd COMMAND --help' for more about a command.\n";

constexpr const char* run_help =
    "Usage: mtlsd run --config FILE\n"
    "\n"
    "Validates FILE as 'mtlsd check' does; if anything is wrong, prints every\n"
    "error and exits 1 without listening. Otherwise binds every service's accept\n"
    "address, logs 'ready', and proxies until SIGTERM or SIGINT. Then it stops\n"
    "accepting, lets live connections finish for up to server.drain_timeout,\n"
    "closes the rest and exits 0. A second signal closes them at once.\n"
    "\n"
    "SIGHUP reloads FILE and every file it names: a valid configuration serves\n"
    "new connections, live ones keep theirs; an invalid one is logged and the\n"
    "running configuration keeps serving. See docs/operations.md.\n";

constexpr const char* reload_help =
    "Usage: mtlsd reload --pid-file FILE\n"
    "       mtlsd reload --config FILE\n"
    "\n"
    "Sends SIGHUP to the mtlsd whose PID is in FILE (or in the [server] pid_file\n"
    "that the config FILE names). The daemon logs 'reloaded' or 'reload_failed'\n"
    "with every error; an invalid configuration never replaces a running one.\n";

constexpr const char* check_help =
    "Usage: mtlsd check --config FILE\n"
    "\n"
    "Parses FILE, loads every certificate, key and truststore it names, checks\n"
    "that each key matches its certificate, and prints one summary per service.\n"
    "Exit status: 0 when valid, 1 when not (every error is printed as\n"
    "file:line:column: key: message).\n";

struct options {
  std::string command = "run";
  bool command_given = false;
  std::string config = default_config;
  bool config_given = false;
  std::string pid_file;
  bool help = false;
};

int usage_error(const std::string& message) {
  std::cerr << "mtlsd: " << message << "\nRun 'mtlsd --help' for usage.\n";
  return 2;
}

std::string version_text() {
  return std::string("mtlsd ") + MTLSD_VERSION + " (" + OpenSSL_version(OPENSSL_VERSION) + ")";
}

// Returns an exit code when parsing ends the program (help, errors).
std::optional<int> parse(int argc, char** argv, options& opts) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  std::size_t i = 0;
  if (i < args.size() && !args[i].starts_with("-")) {
    opts.command = std::string(args[i]);
    opts.command_given = true;
    ++i;
    if (opts.command != "run" && opts.command != "check" && opts.command != "reload" && opts.command != "version")
      return usage_error("unknown command '" + opts.command + "'");
  }
  for (; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "-h" || arg == "--help") {
      opts.help = true;
    } else if (arg == "-V" || arg == "--version") {
      opts.command = "version";
    } else if (arg == "-c" || arg == "--config") {
      if (i + 1 >= args.size()) return usage_error(std::string(arg) + " needs a file name");
      opts.config = std::string(args[++i]);
      opts.config_given = true;
    } else if (arg.starts_with("--config=")) {
      opts.config = std::string(arg.substr(9));
      opts.config_given = true;
    } else if (arg == "--pid-file" && opts.command == "reload") {
      if (i + 1 >= args.size()) return usage_error("--pid-file needs a file name");
      opts.pid_file = std::string(args[++i]);
    } else if (arg.starts_with("--pid-file=") && opts.command == "reload") {
      opts.pid_file = std::string(arg.substr(11));
    } else {
      return usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  return std::nullopt;
}

int run_check(const options& opts) {
  const auto v = load_and_validate(opts.config);
  if (!v.errors.empty()) {
    print_errors(v, opts.config);
    return 1;
  }
  print_summary(std::cout, v);
  return 0;
}

int run_daemon(const options& opts) {
  // SIGHUP's default action ends the process; until the daemon reads signals
  // (loading keys can take a while), hold it back. It stays blocked: the
  // daemon's signal reader takes it from there.
  sigset_t hangup;
  sigemptyset(&hangup);
  sigaddset(&hangup, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &hangup, nullptr);
  // Keys are read next; until the config says otherwise, a crash must not
  // write them to a core file.
  platform::set_core_dumps(false);
  auto v = load_and_validate(opts.config);
  if (!v.errors.empty()) {
    print_errors(v, opts.config);
    return 1;
  }
  log::setup(v.runtime->server.level, v.runtime->server.format);
  for (const auto& w : v.runtime->warnings) log::warn(log::record("config_warning").add("message", w));
  // A peer that vanishes mid-write must cost an error code, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  daemon d(v.cfg.file, std::move(v.runtime), {MTLSD_VERSION, OpenSSL_version(OPENSSL_VERSION)});
  return d.run();
}

int run_reload(const options& opts) {
  std::filesystem::path pid_path = opts.pid_file;
  if (pid_path.empty()) {
    if (!opts.config_given) return usage_error("reload needs --pid-file FILE or --config FILE");
    const auto loaded = load_config_file(opts.config);
    pid_path = loaded.cfg.server.pid_file;
    if (pid_path.empty()) {
      std::cerr << "mtlsd: " << opts.config << " sets no [server] pid_file; use --pid-file or kill -HUP <pid>\n";
      return 1;
    }
  }
  const pid_t pid = platform::read_pid_file(pid_path);
  if (::kill(pid, SIGHUP) != 0) {
    std::cerr << "mtlsd: cannot signal process " << pid << " (from " << pid_path.string()
              << "): " << std::strerror(errno) << '\n';
    return 1;
  }
  std::cout << "sent SIGHUP to mtlsd (pid " << pid << "); its log says 'reloaded' or 'reload_failed'\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // verify has options of its own; it parses everything after its name.
  if (argc >= 2 && std::string_view(argv[1]) == "verify") {
    try {
      return run_verify(std::vector<std::string_view>(argv + 2, argv + argc), std::cout, std::cerr);
    } catch (const std::exception& e) {
      std::cerr << "mtlsd: " << e.what() << '\n';
      return 2;
    }
  }
  options opts;
  if (auto exit_code = parse(argc, argv, opts)) return *exit_code;
  if (opts.help) {
    if (opts.command == "check")
      std::cout << check_help;
    else if (opts.command == "reload")
      std::cout << reload_help;
    else if (opts.command == "run" && opts.command_given)
      std::cout << run_help;
    else if (opts.command == "version" && opts.command_given)
      std::cout << "Usage: mtlsd version\n\nPrints the version of mtlsd and of the OpenSSL it runs on.\n";
    else
      std::cout << main_help;
    return 0;
  }
  try {
    if (opts.command == "version") {
      std::cout << version_text() << '\n';
      return 0;
    }
    if (opts.command == "check") return run_check(opts);
    if (opts.command == "reload") return run_reload(opts);
    return run_daemon(opts);
  } catch (const std::exception& e) {
    std::cerr << "mtlsd: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace mtlsd::cli
