// Several backends behind one service: round-robin distribution, failover
// without failed clients when a backend stops, recovery after fail_timeout,
// least_connections, active health checks, and host-name backends resolved
// in the background. Plain tcp:// services keep the clients simple; the
// backend side is the same for tls:// accepts.

#include <sys/socket.h>
#include <csignal>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <thread>

#include "admin_client.hpp"
#include "integration.hpp"

namespace mtlsd::test {
namespace {

struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

// One client connection through the proxy: sends `message`, expects it echoed.
// Empty on success, else what came back.
std::string echo_once(std::uint16_t port, const std::string& message = "ping") {
  const std::string got = tcp_exchange(loopback, port, message);
  return got == message ? std::string() : "wrong or no echo: \"" + got + "\"";
}

class balancing : public mtlsd_test {
 protected:
  // A plain tcp:// service in front of `backends`.
  static config_spec pool_config(const std::vector<std::string>& backends, std::vector<std::string> lines) {
    service_spec s;
    s.accept = "tcp://127.0.0.1:0";
    s.verify_client.clear();
    s.tls_files = false;
    s.connect_list = backends;
    s.lines = std::move(lines);
    config_spec config;
    config.services.push_back(std::move(s));
    return config;
  }

  mtlsd_daemon& start_pool(const std::vector<std::string>& backends, std::vector<std::string> lines) {
    return start(pool_config(backends, std::move(lines)));
  }

  // Sequential connections; each waits for its access line, so the next one
  // sees the backends' active counts of a finished connection.
  void run_clients(int n) {
    for (int i = 0; i < n; ++i) {
      const auto before = daemon().events("access").size();
      ASSERT_EQ(echo_once(port()), "") << "client " << i;
      daemon().wait_events("access", {}, before + 1);
    }
  }
};

TEST_F(balancing, round_robin_splits_sequential_connections_evenly) {
  loopback_server a(echo_handler()), b(echo_handler()), c(echo_handler());
  start_pool({a.connect_url(), b.connect_url(), c.connect_url()}, {R"(balance = "round_robin")"});
  run_clients(12);
  EXPECT_EQ(a.accepted(), 4u);
  EXPECT_EQ(b.accepted(), 4u);
  EXPECT_EQ(c.accepted(), 4u);
}

TEST_F(balancing, a_backend_stopped_mid_test_fails_no_client) {
  loopback_server a(echo_handler()), c(echo_handler());
  std::optional<loopback_server> b(std::in_place, echo_handler());
  const std::string b_address = b->address();
  auto& d = start_pool({a.connect_url(), b->connect_url(), c.connect_url()}, {R"(fail_timeout = "60s")"});
  run_clients(3);
  EXPECT_EQ(b->accepted(), 1u);
  b.reset();  // refuses from now on
  for (int i = 0; i < 12; ++i) ASSERT_EQ(echo_once(port()), "") << "client " << i << " after the stop";
  const auto down = d.wait_event("backend_down", {{"backend", b_address}});
  EXPECT_EQ(down.get("reason"), "connect_failed");
  EXPECT_EQ(down.get("svc"), "svc");
  EXPECT_TRUE(down.has("until"));
  EXPECT_EQ(d.events("backend_retry", {{"backend", b_address}}).size(), 1u);
  EXPECT_TRUE(d.events("backend_connect_failed").empty());
  const auto access = d.wait_events("access", {}, 15);
  for (std::size_t i = 3; i < access.size(); ++i) {
    EXPECT_EQ(access[i].get("close"), "client_closed") << i;
    EXPECT_NE(access[i].get("backend"), b_address) << i;
  }
  // Each of the 12 later clients (the retried one too) reached a or c once.
  EXPECT_EQ(a.accepted() + c.accepted(), 2u + 12u);
}

// A listener whose accept queue is full: further SYNs are dropped, so a
// connect to it neither succeeds nor fails — a black-holed backend.
struct black_hole {
  fd_guard listener{-1};
  fd_guard queued{-1};
  std::uint16_t port = 0;

  black_hole() {
    listener.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener.fd, 0) != 0 ||
        ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw harness_error("black hole listener");
    port = ntohs(addr.sin_port);
    queued.fd = tcp_connect(loopback, port, 2s);  // fills the queue of one
    if (queued.fd < 0) throw harness_error("black hole: cannot fill the accept queue");
  }
};

TEST_F(balancing, a_black_holed_backend_costs_only_its_share_of_connect_timeout) {
  black_hole hole;
  loopback_server a(echo_handler());
  const std::string hole_address = "127.0.0.1:" + std::to_string(hole.port);
  auto& d = start_pool({"tcp://" + hole_address, a.connect_url()},
                       {R"(connect_timeout = "2s")", R"(connect_retries = 1)"});
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(echo_once(port()), "");
  const auto took = std::chrono::steady_clock::now() - started;
  // Two attempts possible: the first gets half of connect_timeout.
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 1900ms);
  const auto retry = d.wait_event("backend_retry", {{"backend", hole_address}});
  EXPECT_EQ(retry.get("error"), "no connection within its share of connect_timeout");
  EXPECT_EQ(d.wait_event("access").get("backend"), a.address());
  EXPECT_EQ(d.wait_event("backend_down", {{"backend", hole_address}}).get("reason"), "connect_failed");
}

TEST_F(balancing, a_backend_returns_after_fail_timeout) {
  loopback_server a(echo_handler());
  std::optional<loopback_server> b(std::in_place, echo_handler());
  const auto b_port = b->port();
  const std::string b_address = b->address();
  auto& d = start_pool({a.connect_url(), b->connect_url()}, {R"(fail_timeout = "300ms")"});
  b.reset();
  run_clients(2);
  d.wait_event("backend_down", {{"backend", b_address}});
  b.emplace(echo_handler(), 60s, std::size_t{1} << 20, b_port);
  // Once fail_timeout is over, the next connection it is given brings it
  // back: keep clients coming (bounded) until it says so.
  bool up = false;
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  for (int i = 0; !up && std::chrono::steady_clock::now() < give_up; ++i) {
    ASSERT_EQ(echo_once(port()), "") << "client " << i;
    up = !d.events("backend_up", {{"backend", b_address}}).empty();
    if (!up) std::this_thread::sleep_for(20ms);  // poll interval, not a wait for readiness
  }
  ASSERT_TRUE(up) << "no backend_up within 10 s of clients";
  EXPECT_EQ(d.events("backend_up", {{"backend", b_address}}).front().get("reason"), "connect_succeeded");
  EXPECT_GE(b->accepted(), 1u);
  EXPECT_TRUE(d.events("backend_connect_failed").empty());
}

TEST_F(balancing, a_reload_keeps_the_state_of_backends_that_stay) {
  loopback_server a(echo_handler()), c(echo_handler());
  std::optional<loopback_server> b(std::in_place, echo_handler());
  const std::string b_address = b->address();
  auto& d = start_pool({a.connect_url(), b->connect_url()}, {R"(fail_timeout = "60s")"});
  b.reset();
  run_clients(2);
  d.wait_event("backend_down", {{"backend", b_address}});
  // Same backends plus a new one; b stays out of rotation, c joins.
  service_spec s;
  s.accept = "tcp://127.0.0.1:0";
  s.verify_client.clear();
  s.tls_files = false;
  s.connect_list = {a.connect_url(), "tcp://" + b_address, c.connect_url()};
  s.lines = {R"(fail_timeout = "60s")"};
  config_spec next;
  next.services.push_back(std::move(s));
  write_config(next);
  d.proc().send_signal(SIGHUP);
  d.wait_event("reloaded");
  run_clients(6);
  EXPECT_EQ(d.events("backend_retry").size(), 1u) << "b was tried again after the reload";
  EXPECT_EQ(d.events("backend_down").size(), 1u);
  EXPECT_EQ(c.accepted(), 3u);
  EXPECT_EQ(a.accepted(), 2u + 3u);
}

TEST_F(balancing, least_connections_prefers_the_idle_backend) {
  loopback_server a(echo_handler()), b(echo_handler());
  start_pool({a.connect_url(), b.connect_url()}, {R"(balance = "least_connections")"});
  std::string error;
  // Held open: its backend has one active connection throughout.
  fd_guard held{tcp_connect(loopback, port(), 5s, &error)};
  ASSERT_GE(held.fd, 0) << error;
  ASSERT_EQ(::send(held.fd, "x", 1, MSG_NOSIGNAL), 1);
  char echoed = 0;
  pollfd p{held.fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  ASSERT_EQ(::recv(held.fd, &echoed, 1, 0), 1);
  const bool on_a = a.accepted() == 1;
  ASSERT_EQ(a.accepted() + b.accepted(), 1u);
  run_clients(4);
  EXPECT_EQ((on_a ? a : b).accepted(), 1u);
  EXPECT_EQ((on_a ? b : a).accepted(), 4u);
}

TEST_F(balancing, health_checks_take_a_stopped_backend_out_and_bring_it_back) {
  loopback_server a(echo_handler());
  std::optional<loopback_server> b(std::in_place, echo_handler());
  const auto b_port = b->port();
  const std::string b_address = b->address();
  auto& d = start_pool({a.connect_url(), b->connect_url()}, {R"(health_check_interval = "100ms")"});
  b.reset();
  const auto down = d.wait_event("backend_down", {{"backend", b_address}});
  EXPECT_EQ(down.get("reason"), "health_check");
  // No client was needed to notice, and none is sent to it while it is down.
  // (Backends also count the checks' connects: count clients by access line.)
  run_clients(4);
  EXPECT_EQ(d.events("access", {{"backend", a.address()}}).size(), 4u);
  b.emplace(echo_handler(), 60s, std::size_t{1} << 20, b_port);
  const auto up = d.wait_event("backend_up", {{"backend", b_address}});
  EXPECT_EQ(up.get("reason"), "health_check");
  // The checks are plain TCP connects. The kernel completes one (and mtlsd
  // logs backend_up) before the server's accept loop counts it: wait for it.
  EXPECT_TRUE(b->wait_accepted(1, 5s)) << "the passing check reached the backend";
  run_clients(4);
  EXPECT_EQ(d.events("access", {{"backend", a.address()}}).size(), 6u);
  EXPECT_EQ(d.events("access", {{"backend", b_address}}).size(), 2u);
}

TEST_F(balancing, a_host_name_backend_is_resolved_in_the_background) {
  loopback_server a(echo_handler());
  auto& d = start_pool({"tcp://localhost:" + std::to_string(a.port())}, {R"(resolve_interval = "200ms")"});
  const auto resolved = d.wait_event("backend_resolved", {{"host", "localhost"}});
  EXPECT_NE(resolved.get("addresses").find("127.0.0.1:" + std::to_string(a.port())), std::string::npos)
      << resolved.get("addresses");
  run_clients(2);
  EXPECT_EQ(a.accepted(), 2u);
  EXPECT_EQ(d.events("access").front().get("backend"), "localhost(127.0.0.1:" + std::to_string(a.port()) + ")");
}

TEST_F(balancing, metrics_and_status_show_each_backend_and_its_state) {
  loopback_server a(echo_handler());
  std::optional<loopback_server> b(std::in_place, echo_handler());
  const std::string b_address = b->address();
  service_spec s;
  s.accept = "tcp://127.0.0.1:0";
  s.verify_client.clear();
  s.tls_files = false;
  s.connect_list = {a.connect_url(), b->connect_url()};
  s.lines = {R"(fail_timeout = "60s")"};
  config_spec config;
  config.services.push_back(std::move(s));
  pki();
  const auto path = dir_ / "mtlsd.toml";
  write_file(path, render_config(config) + "[admin]\nlisten = \"127.0.0.1:0\"\n");
  daemon_ = std::make_unique<mtlsd_daemon>(mtlsd_binary, path);
  const std::string admin = daemon_->wait_event("admin_listening", {}, 1s).get("addr");
  b.reset();
  run_clients(4);
  daemon().wait_event("backend_down", {{"backend", b_address}});

  const auto reply = http_request(admin, "/metrics");
  ASSERT_EQ(reply.status, 200) << reply.describe();
  const auto m = metrics_text::parse(reply.body);
  const std::map<std::string, std::string> on_a = {{"service", "svc"}, {"backend", a.address()}};
  const std::map<std::string, std::string> on_b = {{"service", "svc"}, {"backend", b_address}};
  EXPECT_EQ(m.integer("mtlsd_backend_connections_total", on_a), 4);
  EXPECT_EQ(m.integer("mtlsd_backend_connections_total", on_b), 0);
  EXPECT_EQ(m.integer("mtlsd_backend_connect_failures_total", on_a), 0);
  EXPECT_EQ(m.integer("mtlsd_backend_connect_failures_total", on_b), 1);
  EXPECT_EQ(m.integer("mtlsd_backend_connections_active", on_a), 0);
  EXPECT_EQ(m.integer("mtlsd_backend_up", on_a), 1);
  EXPECT_EQ(m.integer("mtlsd_backend_up", on_b), 0);

  const auto status = http_request(admin, "/status");
  ASSERT_EQ(status.status, 200) << status.describe();
  const auto doc = json_document::parse(status.body);
  EXPECT_EQ(doc.string("services.0.balance"), "round_robin");
  ASSERT_EQ(doc.size("services.0.backends"), 2u);
  EXPECT_EQ(doc.string("services.0.backends.0.backend"), a.address());
  EXPECT_TRUE(doc.boolean("services.0.backends.0.up"));
  EXPECT_EQ(doc.string("services.0.backends.1.backend"), b_address);
  EXPECT_FALSE(doc.boolean("services.0.backends.1.up"));
}

// Host names: mtlsd runs in a mount namespace of its own in which /etc/hosts
// is a file of this test's, so the test can change what a name resolves to
// without touching the machine's (needs the right to unshare; skipped
// otherwise). The file is rewritten in place: the bind mount holds its inode.
class host_names : public balancing {
 protected:
  void set_hosts(const std::string& text) {
    std::ofstream out(hosts_, std::ios::trunc);
    out << text;
  }

  mtlsd_daemon& start_with_hosts(const std::string& connect, std::vector<std::string> lines) {
    const auto file = write_config(pool_config({connect}, std::move(lines)));
    daemon_ = std::make_unique<mtlsd_daemon>(
        std::vector<std::string>{"unshare", "--mount", "sh", "-c",
                                 "mount --bind \"$1\" /etc/hosts && exec \"$2\" run --config \"$3\"", "sh",
                                 hosts_.string(), mtlsd_binary, file.string()},
        on_path());
    return *daemon_;
  }

  static process_options on_path() {
    process_options o;
    o.search_path = true;
    return o;
  }

  static bool can_unshare() {
    return run_command({"unshare", "--mount", "sh", "-c", "mount --bind /dev/null /dev/null"}, 10s, {}, on_path())
               .status == 0;
  }

  std::filesystem::path hosts_ = dir_ / "hosts";
};

TEST_F(host_names, every_address_is_used_and_a_changed_one_is_picked_up_without_a_reload) {
  if (!can_unshare()) GTEST_SKIP() << "no right to create a mount namespace (unshare --mount) here";
  loopback_server v4(echo_handler());
  loopback_server v6(echo_handler(), 60s, std::size_t{1} << 20, v4.port(), true);
  const std::string port_text = std::to_string(v4.port());
  set_hosts("127.0.0.1 backend.mtlsd.test\n::1 backend.mtlsd.test\n");
  auto& d = start_with_hosts("tcp://backend.mtlsd.test:" + port_text, {R"(resolve_interval = "100ms")"});
  d.wait_event("backend_resolved", {{"host", "backend.mtlsd.test"}});
  run_clients(4);
  EXPECT_EQ(v4.accepted(), 2u) << "both addresses of the name take turns";
  EXPECT_EQ(v6.accepted(), 2u);

  set_hosts("::1 backend.mtlsd.test\n");
  d.wait_events("backend_resolved", {{"host", "backend.mtlsd.test"}}, 2);
  run_clients(4);
  EXPECT_EQ(v4.accepted(), 2u) << "the address the name lost gets no new connection";
  EXPECT_EQ(v6.accepted(), 6u);
  EXPECT_EQ(d.events("reloaded").size(), 0u);
  EXPECT_EQ(d.events("access", {{"backend", "backend.mtlsd.test([::1]:" + port_text + ")"}}).size(), 6u);
}

}  // namespace
}  // namespace mtlsd::test
