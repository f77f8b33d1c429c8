// Running under a service manager: the sd_notify(3) messages systemd acts on
// (readiness, reloads, stopping, watchdog keep-alives), socket activation
// (sd_listen_fds(3), through the mtlsd-socket-activate stand-in) and the
// switch to an unprivileged user after binding.

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netinet/in.h>

#include <charconv>
#include <csignal>
#include <ctime>
#include <fstream>
#include <sstream>

#include "integration.hpp"
#include "notify_listener.hpp"

namespace mtlsd::test {
namespace {

using clock_type = std::chrono::steady_clock;

const std::string socket_activate_binary = MTLSD_SOCKET_ACTIVATE_BINARY;

std::uint64_t monotonic_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The tab-separated fields of a /proc/<pid>/status line such as "Uid:".
std::vector<std::string> status_fields(const std::string& status, const std::string& key) {
  std::istringstream lines(status);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream words(line.substr(key.size() + 1));
    std::vector<std::string> out;
    std::string word;
    while (words >> word) out.push_back(word);
    return out;
  }
  return {};
}

class systemd : public mtlsd_test {
 protected:
  mtlsd_daemon& start_with_env(const config_spec& spec, std::vector<std::string> env) {
    process_options options;
    options.extra_env = std::move(env);
    daemon_ = std::make_unique<mtlsd_daemon>(
        std::vector<std::string>{mtlsd_binary, "run", "--config", write_config(spec).string()}, options);
    return *daemon_;
  }

  // The next notification, failing the test (with the daemon's output) when
  // none arrives within `timeout`.
  std::string next_notification(notify_listener& listener, std::chrono::milliseconds timeout = 5s) {
    auto message = listener.receive(timeout);
    if (!message) throw harness_error("no notification within the timeout\n" + daemon_->output());
    return *message;
  }
};

TEST_F(systemd, notify_sequence) {
  loopback_server backend(echo_handler());
  notify_listener listener(dir_ / "notify.sock");
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto& d = start_with_env(config, {listener.env()});

  // Type=notify: READY=1 only once the listeners are bound, so a client
  // started after it (After=mtlsd.service) can connect.
  const auto ready = next_notification(listener);
  EXPECT_EQ(notify_field(ready, "READY"), "1") << ready;
  ASSERT_TRUE(notify_field(ready, "STATUS").has_value()) << ready;
  EXPECT_NE(notify_field(ready, "STATUS")->find("1 service"), std::string::npos) << ready;
  EXPECT_TRUE(connect_and_probe(client_identity::of(pki().client())).admitted);

  // Type=notify-reload: RELOADING=1 with the time the reload began, then READY=1.
  const auto before_reload = monotonic_usec();
  d.proc().send_signal(SIGHUP);
  const auto reloading = next_notification(listener);
  const auto after_reload = monotonic_usec();
  EXPECT_EQ(notify_field(reloading, "RELOADING"), "1") << reloading;
  const auto stamp_text = notify_field(reloading, "MONOTONIC_USEC");
  ASSERT_TRUE(stamp_text.has_value()) << reloading;
  std::uint64_t stamp = 0;
  const auto [end, ec] = std::from_chars(stamp_text->data(), stamp_text->data() + stamp_text->size(), stamp);
  ASSERT_TRUE(ec == std::errc() && end == stamp_text->data() + stamp_text->size()) << reloading;
  // Same clock as ours (CLOCK_MONOTONIC is system-wide): between signal and receipt.
  EXPECT_GE(stamp, before_reload);
  EXPECT_LE(stamp, after_reload);
  EXPECT_TRUE(notify_field(reloading, "STATUS").has_value()) << reloading;
  const auto reloaded = next_notification(listener);
  EXPECT_EQ(notify_field(reloaded, "READY"), "1") << reloaded;
  EXPECT_NE(notify_field(reloaded, "STATUS").value_or("").find("generation 2"), std::string::npos) << reloaded;
  d.wait_event("reloaded");

  // A failed reload must end the RELOADING state too, or systemctl reload hangs.
  write_file(dir_ / "mtlsd.toml", "[server]\nno_such_key = 1\n");
  d.proc().send_signal(SIGHUP);
  EXPECT_EQ(notify_field(next_notification(listener), "RELOADING"), "1");
  const auto after_failure = next_notification(listener);
  EXPECT_EQ(notify_field(after_failure, "READY"), "1") << after_failure;
  EXPECT_NE(notify_field(after_failure, "STATUS").value_or("").find("reload failed"), std::string::npos)
      << after_failure;
  d.wait_event("reload_failed");

  d.proc().send_signal(SIGTERM);
  const auto stopping = next_notification(listener);
  EXPECT_EQ(notify_field(stopping, "STOPPING"), "1") << stopping;
  EXPECT_EQ(d.proc().wait_exit_and_output(5s), 0);
  // Nothing else was sent (no watchdog was asked for).
  const auto extra = listener.receive(0ms);
  EXPECT_FALSE(extra.has_value()) << *extra;
}

TEST_F(systemd, watchdog) {
  loopback_server backend(echo_handler());
  notify_listener listener(dir_ / "notify.sock");
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  // WATCHDOG_PID empty: as when the manager starts mtlsd itself (a value the
  // test runner may have inherited would name another process).
  start_with_env(config, {listener.env(), "WATCHDOG_USEC=200000", "WATCHDOG_PID="});

  // A keep-alive every WATCHDOG_USEC/2 = 100 ms: three well within 2 s.
  const auto deadline = clock_type::now() + 2s;
  int keepalives = 0;
  bool ready = false;
  while (keepalives < 3) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0) break;
    const auto message = listener.receive(left);
    if (!message) break;
    if (*message == "WATCHDOG=1") ++keepalives;
    if (notify_field(*message, "READY") == "1") ready = true;
  }
  EXPECT_TRUE(ready);
  EXPECT_GE(keepalives, 3) << daemon().output();
  EXPECT_TRUE(connect_and_probe(client_identity::of(pki().client())).admitted);
}

TEST_F(systemd, watchdog_meant_for_another_process_is_left_alone) {
  loopback_server backend(echo_handler());
  notify_listener listener(dir_ / "notify.sock");
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  // A wrapper that execs us after forking leaves WATCHDOG_PID naming itself:
  // the keep-alives are its job, and ours would mask its hang.
  start_with_env(config, {listener.env(), "WATCHDOG_USEC=200000", "WATCHDOG_PID=1"});
  EXPECT_EQ(notify_field(next_notification(listener), "READY"), "1");
  // Silence has no signal to wait for: watch for ten keep-alive periods.
  const auto message = listener.receive(1s);
  EXPECT_FALSE(message.has_value()) << *message;
}

TEST_F(systemd, socket_activation_by_name) {
  loopback_server backend(echo_handler());
  config_spec config;
  auto svc = service(backend.connect_url());
  // Not the inherited socket's address: the name decides.
  svc.accept = "tls://127.0.0.1:" + std::to_string(closed_port());
  config.services.push_back(svc);
  const auto ready_file = dir_ / "sockets.txt";
  daemon_ = std::make_unique<mtlsd_daemon>(
      std::vector<std::string>{socket_activate_binary, "--listen", "127.0.0.1:0", "--name", "svc", "--ready-file",
                               ready_file.string(), "--", mtlsd_binary, "run", "--config",
                               write_config(config).string()},
      process_options{});
  const std::string passed = read_text(ready_file);
  ASSERT_FALSE(passed.empty());
  const std::string address = passed.substr(0, passed.find('\n'));

  const auto listening = daemon().wait_event("listening", {{"svc", "svc"}}, 1s);
  EXPECT_EQ(listening.get("inherited"), "true");
  EXPECT_EQ(listening.get("addr"), address);
  EXPECT_EQ("127.0.0.1:" + std::to_string(port()), address);
  EXPECT_TRUE(connect_and_probe(client_identity::of(pki().client())).admitted);
  EXPECT_EQ(backend.accepted(), 1u);
}

TEST_F(systemd, socket_activation_by_address) {
  loopback_server backend(echo_handler());
  // The config must name the socket's port before the tool binds it: take a
  // free port and hand it to both. Another process may grab it in between;
  // then try another port.
  std::string address;
  for (int attempt = 0; attempt < 3 && !daemon_; ++attempt) {
    address = "127.0.0.1:" + std::to_string(closed_port());
    config_spec config;
    auto svc = service(backend.connect_url());
    svc.name = "unnamed-socket";
    svc.accept = "tls://" + address;
    config.services.push_back(svc);
    const auto ready_file = dir_ / ("sockets-" + std::to_string(attempt) + ".txt");
    try {
      daemon_ = std::make_unique<mtlsd_daemon>(
          std::vector<std::string>{socket_activate_binary, "--listen", address, "--ready-file", ready_file.string(),
                                   "--", mtlsd_binary, "run", "--config", write_config(config).string()},
          process_options{});
    } catch (const harness_error& e) {
      if (std::string(e.what()).find("mtlsd-socket-activate: cannot bind") == std::string::npos) throw;
    }
  }
  ASSERT_TRUE(daemon_) << "three ports taken between picking and binding";

  const auto listening = daemon().wait_event("listening", {{"svc", "unnamed-socket"}}, 1s);
  EXPECT_EQ(listening.get("inherited"), "true");
  EXPECT_EQ(listening.get("addr"), address);
  EXPECT_TRUE(connect_and_probe(client_identity::of(pki().client()), "unnamed-socket").admitted);
}

TEST_F(systemd, unnamed_socket_on_another_address_is_not_taken) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url()));  // tls://127.0.0.1:0
  const auto ready_file = dir_ / "sockets.txt";
  // Without a name only the exact address counts: a socket the manager bound
  // elsewhere stays unused and the service binds its own.
  daemon_ = std::make_unique<mtlsd_daemon>(
      std::vector<std::string>{socket_activate_binary, "--listen", "127.0.0.1:0", "--ready-file", ready_file.string(),
                               "--", mtlsd_binary, "run", "--config", write_config(config).string()},
      process_options{});
  const std::string passed = read_text(ready_file);
  ASSERT_FALSE(passed.empty());
  const auto listening = daemon().wait_event("listening", {{"svc", "svc"}}, 1s);
  EXPECT_EQ(listening.get("inherited"), "false");
  EXPECT_NE(listening.get("addr") + "\n", passed);
  EXPECT_TRUE(connect_and_probe(client_identity::of(pki().client())).admitted);
}

// A port below 1024 that nothing listens on, so binding it needs root.
std::optional<std::uint16_t> free_privileged_port() {
  for (std::uint16_t candidate = 980; candidate < 1024; ++candidate) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(candidate);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool free = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) return candidate;
  }
  return std::nullopt;
}

TEST_F(systemd, privilege_drop) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching users needs root; run the suite as root to cover it";
  const passwd* nobody = ::getpwnam("nobody");
  const group* nogroup = ::getgrnam("nogroup");
  if (nobody == nullptr || nogroup == nullptr) GTEST_SKIP() << "no user nobody / group nogroup on this system";
  const std::string uid = std::to_string(nobody->pw_uid);
  const std::string gid = std::to_string(nogroup->gr_gid);
  const auto low_port = free_privileged_port();
  ASSERT_TRUE(low_port.has_value()) << "no free port in 980..1023 on 127.0.0.1";

  loopback_server backend(echo_handler());
  config_spec config;
  config.server_lines = {R"(user = "nobody")", R"(group = "nogroup")"};
  auto svc = service(backend.connect_url());
  // Binding a privileged port is why one starts as root at all.
  svc.accept = "tls://127.0.0.1:" + std::to_string(*low_port);
  config.services.push_back(svc);
  auto& d = start(config);
  d.wait_event("privileges_dropped", {{"user", "nobody"}, {"group", "nogroup"}}, 1s);

  // Every thread — the workers carry the connections — runs as nobody/nogroup:
  // real, effective, saved and filesystem ids; no capabilities left.
  const std::filesystem::path tasks = "/proc/" + std::to_string(d.proc().pid()) + "/task";
  std::size_t threads = 0;
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    ++threads;
    const std::string status = read_text(task.path() / "status");
    EXPECT_EQ(status_fields(status, "Uid"), (std::vector<std::string>{uid, uid, uid, uid})) << task.path();
    EXPECT_EQ(status_fields(status, "Gid"), (std::vector<std::string>{gid, gid, gid, gid})) << task.path();
    for (const auto& g : status_fields(status, "Groups")) EXPECT_NE(g, "0") << "still in group root";
    EXPECT_EQ(status_fields(status, "CapEff"), std::vector<std::string>{"0000000000000000"}) << task.path();
    EXPECT_EQ(status_fields(status, "CapPrm"), std::vector<std::string>{"0000000000000000"}) << task.path();
  }
  EXPECT_GE(threads, 2u) << "expected the main thread and at least one worker";

  // The socket was bound as root, before the switch, and keeps serving.
  EXPECT_EQ(port(), *low_port);
  EXPECT_TRUE(connect_and_probe(client_identity::of(pki().client())).admitted);

  // Reloads run as nobody. The test's scratch directory is root's and private
  // (0700), as a config directory often is: the reload fails, says why, and
  // the running configuration keeps serving.
  ASSERT_EQ(std::filesystem::status(dir_.path()).permissions() & std::filesystem::perms::others_exec,
            std::filesystem::perms::none);
  d.proc().send_signal(SIGHUP);
  const auto denied = d.wait_event("reload_error");
  EXPECT_NE(denied.get("error").find("ermission denied"), std::string::npos) << denied.get("error");
  d.wait_event("reload_failed");
  EXPECT_TRUE(connect_and_probe(client_identity::of(pki().client())).admitted);

  // What an operator does instead: the directory searchable, the key readable
  // by the service's group only.
  namespace fs = std::filesystem;
  fs::permissions(dir_.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  ASSERT_EQ(::chown(pki().server_key_file().c_str(), 0, nogroup->gr_gid), 0);
  fs::permissions(pki().server_key_file(), fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  for (const auto& readable : {dir_ / "mtlsd.toml", pki().server_cert_file(), pki().client_ca_file()})
    fs::permissions(readable, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                  fs::perms::others_read);
  d.proc().send_signal(SIGHUP);
  EXPECT_EQ(d.wait_event("reloaded").get("generation"), "2");
  EXPECT_TRUE(connect_and_probe(client_identity::of(pki().client())).admitted);
}

// "Max core file size" soft limit from /proc/<pid>/limits ("0", "unlimited", ...).
std::string core_size_limit(int pid) {
  std::istringstream limits(read_text("/proc/" + std::to_string(pid) + "/limits"));
  for (std::string line; std::getline(limits, line);) {
    if (line.rfind("Max core file size", 0) != 0) continue;
    std::istringstream fields(line.substr(std::string("Max core file size").size()));
    std::string soft;
    fields >> soft;
    return soft;
  }
  return "not found";
}

uid_t owner_of(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw std::runtime_error("cannot stat " + path.string());
  return info.st_uid;
}

TEST_F(systemd, a_crash_leaves_no_core_file_with_the_keys_by_default) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);
  EXPECT_EQ(core_size_limit(d.proc().pid()), "0");
}

TEST_F(systemd, not_dumpable_after_dropping_privileges_unless_core_dumps_is_set) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching users needs root; run the suite as root to cover it";
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr || ::getgrnam("nogroup") == nullptr) GTEST_SKIP() << "no user nobody / group nogroup";
  loopback_server backend(echo_handler());
  config_spec config;
  config.server_lines = {R"(user = "nobody")", R"(group = "nogroup")"};
  config.services.push_back(service(backend.connect_url()));
  {
    // A process that is not dumpable has its /proc files owned by root, not
    // by the user it runs as, and that user's other processes cannot ptrace
    // it or read its memory.
    auto& d = start(config);
    d.wait_event("privileges_dropped");
    EXPECT_EQ(owner_of("/proc/" + std::to_string(d.proc().pid()) + "/status"), 0u);
    EXPECT_EQ(core_size_limit(d.proc().pid()), "0");
  }
  config.server_lines.push_back("core_dumps = true");
  auto& d = start(config);  // replaces the daemon above
  d.wait_event("privileges_dropped");
  EXPECT_EQ(owner_of("/proc/" + std::to_string(d.proc().pid()) + "/status"), nobody->pw_uid);
  // The limit it inherited (from this test) is left as it was.
  EXPECT_EQ(core_size_limit(d.proc().pid()), core_size_limit(static_cast<int>(::getpid())));
}

}  // namespace
}  // namespace mtlsd::test
