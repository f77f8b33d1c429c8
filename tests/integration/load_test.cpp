// Load: ten thousand idle mTLS connections held and closed, a soak of short
// connections, running out of file descriptors. mtlsd is measured from outside, through /proc: descriptors,
// resident memory, CPU time. The backend (mtlsd-echo) runs in its own process
// so that this one holds only the client sockets.
//
// Counts are scaled down under the sanitizers (ASan/TSan run mtlsd several
// times slower, and their allocators keep freed memory on purpose, so RSS is
// only asserted in the release flavour); every test prints what it ran.

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <thread>

#include "admin_client.hpp"
#include "integration.hpp"
#include "proc_stats.hpp"
#include "tls_swarm.hpp"

namespace mtlsd::test {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

std::size_t env_count(const char* name, std::size_t fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  return static_cast<std::size_t>(std::strtoull(text, nullptr, 10));
}

void report(const std::string& text) { std::cout << "[ load     ] " << text << std::endl; }

std::string mib(std::uint64_t kib) {
  std::ostringstream out;
  out.precision(1);
  out << std::fixed << static_cast<double>(kib) / 1024.0 << " MiB";
  return out.str();
}

class load : public mtlsd_test {
 protected:
  void SetUp() override {
    client_limit_ = raise_own_descriptor_limit();
    echo_ = std::make_unique<process>(std::vector<std::string>{echo_binary, "--listen", "127.0.0.1:0"});
    const auto line = echo_->wait_for_line(rx("^listening 127\\.0\\.0\\.1:[0-9]+$"), 5s);
    echo_port_ = static_cast<std::uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
  }

  mtlsd_daemon& start_proxy(std::vector<std::string> server_lines = {}, std::vector<std::string> service_lines = {}) {
    config_spec config;
    config.server_lines = std::move(server_lines);
    config.services.push_back(service("tcp://127.0.0.1:" + std::to_string(echo_port_), "require", std::move(service_lines)));
    auto& d = start(config);
    pid_ = d.proc().pid();
    return d;
  }

  swarm_options swarm(std::size_t in_flight) {
    leaf_ = pki().client();
    swarm_options o;
    o.port = port();
    o.ca_file = pki().server_ca_file();
    o.identity = client_identity::of(leaf_);
    o.in_flight = in_flight;
    return o;
  }

  std::uint64_t rss() { return resident_kib(pid_).value_or(0); }
  std::size_t fds() { return open_descriptors(pid_).value_or(0); }

  // mtlsd logs `access` once a connection's sockets are closed; afterwards
  // nothing of it should hold a descriptor.
  void await_closed(std::size_t access_lines, std::size_t fds_at_rest, std::chrono::milliseconds timeout) {
    daemon().wait_events("access", {}, access_lines, timeout);
    EXPECT_TRUE(poll_until([&] { return fds() <= fds_at_rest; }, 5s))
        << "mtlsd holds " << fds() << " descriptors, " << fds_at_rest << " at rest";
  }

  std::uint64_t client_limit_ = 0;
  std::unique_ptr<process> echo_;
  std::uint16_t echo_port_ = 0;
  pid_t pid_ = -1;
  issued leaf_;
};

TEST_F(load, ten_thousand_idle_connections_are_held_served_and_released) {
  // The in-memory TLS session cache (session_cache_size, 5000 entries by
  // default) keeps a few KiB per recent client on purpose, until the entries
  // expire; left on, it would hide what connections themselves leave behind.
  // debug: the memory_trimmed line is the signal that memory was given back.
  auto& d = start_proxy({"max_connections = 10000", R"(log_level = "debug")"}, {"session_cache_size = 0"});
  // One-time costs (OpenSSL's per-thread state, the first buffers) are not
  // what this test is about: the baseline is taken after a warm-up.
  tls_swarm clients(swarm(200));
  const std::size_t warm_up = 200;
  const std::uint64_t rss_start = rss();
  const std::size_t fds_start = fds();
  ASSERT_EQ(clients.cycle(warm_up).failed, 0u);
  await_closed(warm_up, fds_start, 30s);
  const std::size_t fds_at_rest = fds();
  const std::uint64_t rss_base = rss();

  // Each idle connection holds two descriptors in mtlsd (client and backend).
  // The hard limit here may be below 10,000 x 2 + what mtlsd holds at rest;
  // then the test holds as many as fit, keeping a few spare for mtlsd's own use.
  const std::uint64_t limit = descriptor_limit(pid_).value_or(0);
  const std::size_t spare = 32;
  const std::size_t fit = limit > fds_at_rest + spare ? (limit - fds_at_rest - spare) / 2 : 0;
  const std::size_t client_fit = client_limit_ > 64 ? client_limit_ - 64 : 0;
  const std::size_t wanted = env_count("MTLSD_TEST_IDLE_CONNECTIONS", sanitized ? 2000 : 10000);
  const std::size_t count = std::min({wanted, fit, client_fit});
  std::ostringstream why;
  why << "idle connections: " << count << " of " << wanted << " wanted";
  if (count < wanted)
    why << " (mtlsd's RLIMIT_NOFILE is " << limit << ": " << fds_at_rest << " descriptors at rest + 2 per connection + "
        << spare << " spare; this process's limit " << client_limit_ << ")";
  if (sanitized) why << "; sanitizer build: scaled down, RSS reported, not asserted";
  report(why.str());
  ASSERT_GE(count, sanitized ? 500u : 5000u) << "descriptor limits too low for a meaningful run: " << why.str();

  const auto opened = clients.open(count);
  report("opened: " + opened.describe());
  ASSERT_EQ(opened.ok, count) << opened.describe();
  ASSERT_EQ(clients.held(), count);
  const std::size_t fds_peak = fds();
  const std::uint64_t rss_peak = rss();
  EXPECT_GE(fds_peak, fds_at_rest + 2 * count) << "every idle connection holds its client and backend socket";

  // All of them at once, still served.
  const auto again = clients.round_trip_all();
  report("second round trip on every connection: " + again.describe());
  EXPECT_EQ(again.ok, count) << again.describe();

  const auto closed = clients.close_all();
  report("closed: " + closed.describe());
  EXPECT_EQ(closed.ok, count) << closed.describe();
  await_closed(warm_up + count, fds_at_rest, 60s);
  EXPECT_TRUE(d.events("access", {{"close", "client_closed"}}).size() == warm_up + count);
  const std::size_t fds_after = fds();
  const std::uint64_t rss_closed = rss();
  // mtlsd gives the spike's memory back within seconds of the drop. A trim
  // may run while the close is under way; the last one runs with fewer than
  // 512 connections left (memory_release::min_drop), usually none.
  const line_matcher final_trim(
      [](const std::string& text) {
        const auto line = parse_log_line(text);
        return line && line->event == "memory_trimmed" && std::stoull(line->get("connections")) < 512;
      },
      "memory_trimmed with fewer than 512 connections open");
  const auto trimmed = *parse_log_line(d.proc().wait_for_line(final_trim, 10s));
  const std::uint64_t rss_after = rss();

  std::ostringstream figures;
  figures << "mtlsd fds at rest " << fds_at_rest << ", peak " << fds_peak << ", after " << fds_after
          << "; RSS at start " << mib(rss_start) << ", after warm-up " << mib(rss_base) << ", peak " << mib(rss_peak)
          << " (" << (rss_peak > rss_base ? (rss_peak - rss_base) * 1024 / count : 0) << " B per connection), all closed " << mib(rss_closed)
          << ", after memory_trimmed " << mib(rss_after) << " (trimmed at connections=" << trimmed.get("connections")
          << " peak=" << trimmed.get("peak") << ")";
  report(figures.str());
  RecordProperty("idle_connections", static_cast<int>(count));
  RecordProperty("rss_base_kib", static_cast<int>(rss_base));
  RecordProperty("rss_peak_kib", static_cast<int>(rss_peak));
  RecordProperty("rss_after_kib", static_cast<int>(rss_after));
  EXPECT_LE(fds_after, fds_at_rest);
  if (!sanitized) {
    // glibc keeps freed memory unless trimmed: without mtlsd's trim RSS stays
    // at the peak. After it, what remains are pages pinned by the few small
    // objects that outlive the spike (about 5 MiB in use of 230 MiB at 10,000
    // connections, chiefly Asio's per-descriptor records, which it keeps for
    // reuse by later sockets), measured at 5-6 KiB per connection of the peak.
    // Bound: 8 KiB per peak connection, i.e. at least 60% of the spike (22 KiB
    // per connection) must come back.
    EXPECT_LE(rss_after, rss_base + count * 8) << figures.str();
  }
}

TEST_F(load, soak_of_short_connections_leaks_no_descriptors_or_memory) {
  // Every connection is a full handshake whose session enters the in-memory
  // session cache; a cache of 500 is full after the warm-up, so the soak runs
  // its eviction 20 times over instead of measuring it fill up.
  auto& d = start_proxy({}, {"session_cache_size = 500"});
  tls_swarm clients(swarm(32));
  const std::size_t warm_up = 1000;
  const auto warm = clients.cycle(warm_up);
  ASSERT_EQ(warm.failed, 0u) << warm.describe();
  d.wait_events("access", {}, warm_up, 30s);
  ASSERT_TRUE(poll_until([&] { return d.events("access").size() == warm_up; }, 5s));
  const std::size_t fds_before = fds();
  const std::uint64_t rss_before = rss();

  // The full soak is 200,000 connections (minutes on two cores): the ctest
  // test load_soak_full (label `soak`, run by CI in the release flavour only)
  // sets MTLSD_TEST_SOAK_CONNECTIONS; the regular suite runs 10,000.
  const std::size_t total = env_count("MTLSD_TEST_SOAK_CONNECTIONS", sanitized ? 1000 : 10000);
  report("soak: " + std::to_string(total) + " short connections, 32 in flight" +
         (sanitized ? " (sanitizer build: RSS reported, not asserted)" : ""));
  const std::size_t rounds = 10;
  swarm_result sum;
  std::string trend;
  for (std::size_t r = 0; r < rounds; ++r) {
    const std::size_t n = total / rounds + (r < total % rounds ? 1 : 0);
    const auto round = clients.cycle(n);
    sum.ok += round.ok;
    sum.failed += round.failed;
    sum.elapsed += round.elapsed;
    for (const auto& e : round.errors)
      if (sum.errors.size() < 8) sum.errors.push_back(e);
    trend += (trend.empty() ? "" : " ") + std::to_string(rss() / 1024);
  }
  report("soak: " + sum.describe() + " (" +
         std::to_string(sum.elapsed.count() > 0 ? sum.ok * 1000 / static_cast<std::size_t>(sum.elapsed.count()) : 0) +
         " connections/s); mtlsd RSS after each tenth, MiB: " + trend);
  EXPECT_EQ(sum.ok, total) << sum.describe();
  EXPECT_EQ(sum.failed, 0u) << sum.describe();

  await_closed(warm_up + total, fds_before, 60s);
  const std::size_t fds_after = fds();
  const std::uint64_t rss_after = rss();
  report("soak: mtlsd fds before " + std::to_string(fds_before) + ", after " + std::to_string(fds_after) +
         "; RSS before " + mib(rss_before) + ", after " + mib(rss_after));
  EXPECT_EQ(fds_after, fds_before);
  EXPECT_EQ(d.events("access", {{"close", "client_closed"}}).size(), warm_up + total);
  EXPECT_TRUE(d.events("handshake_failed").empty());
  EXPECT_TRUE(d.events("backend_connect_failed").empty());
  if (!sanitized) {
    // 4 MiB: a leak of 400 bytes per connection over the default 10,000, of
    // 20 over the full 200,000; the allocator's own noise stays below 1 MiB.
    EXPECT_LE(rss_after, rss_before + 4 * 1024) << "RSS grew from " << mib(rss_before) << " to " << mib(rss_after);
  }
}


// mtlsd started under `ulimit -n`: connections are opened until descriptors
// run out; then new clients must be refused promptly with a logged reason,
// the open ones keep relaying, the accept loop must not spin, and once some
// connections close new clients are served again. Same for the admin port.
TEST_F(load, out_of_descriptors_refuses_promptly_keeps_serving_and_recovers) {
#if defined(__SANITIZE_ADDRESS__)
  // The asan flavour also runs UBSan, whose vptr check probes each new
  // vtable through a pipe: with no descriptor left the probe fails and UBSan
  // reports a false "invalid vptr" and aborts mtlsd. The release and tsan
  // flavours run this test.
  GTEST_SKIP() << "UBSan cannot check vtables without a free descriptor";
#endif
  const std::uint64_t nofile = 64;
  config_spec config;
  config.services.push_back(service("tcp://127.0.0.1:" + std::to_string(echo_port_)));
  const auto path = dir_ / "mtlsd.toml";
  pki();
  write_file(path, render_config(config) + "[admin]\nlisten = \"127.0.0.1:0\"\n");
  daemon_ = std::make_unique<mtlsd_daemon>(
      std::vector<std::string>{"/bin/sh", "-c", "ulimit -n " + std::to_string(nofile) + " && exec \"$0\" run --config \"$1\"",
                               mtlsd_binary, path.string()},
      process_options{});
  auto& d = *daemon_;
  pid_ = d.proc().pid();
  const std::string admin_address = d.wait_event("admin_listening", {}, 1s).get("addr");
  ASSERT_EQ(descriptor_limit(pid_), nofile);
  const std::size_t fds_at_rest = fds();
  report("mtlsd under ulimit -n " + std::to_string(nofile) + ": " + std::to_string(fds_at_rest) +
         " descriptors at rest");

  const auto leaf = pki().client();
  auto options = client_options(client_identity::of(leaf));
  options.timeout = 5s;
  std::vector<std::unique_ptr<tls_client>> held;
  // A refused client must hear so at once, not wait out its own timeout.
  const auto refused_promptly = [&](const std::string& what) {
    tls_client client(options);
    const auto started = std::chrono::steady_clock::now();
    const auto hs = client.connect(loopback, port());
    const bool admitted = hs.ok && client.probe().admitted;
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_FALSE(admitted) << what;
    EXPECT_LT(took, 1500ms) << what << ": the refused client waited";
  };

  // Fill: each admitted connection holds two descriptors in mtlsd.
  for (std::uint64_t i = 0; i < nofile && d.events("accept_paused").empty(); ++i) {
    auto client = std::make_unique<tls_client>(options);
    if (client->connect(loopback, port()).ok && client->probe().admitted) held.push_back(std::move(client));
  }
  const auto paused = d.wait_event("accept_paused", {{"svc", "svc"}}, 5s);
  report("filled: " + std::to_string(held.size()) + " connections held, mtlsd at " + std::to_string(fds()) +
         " descriptors; " + paused.level + " accept_paused nofile=" + paused.get("nofile") + " open=" +
         paused.get("open") + " connections=" + paused.get("connections"));
  ASSERT_GE(held.size(), 5u);
  EXPECT_EQ(paused.level, "warn");
  EXPECT_EQ(paused.get("error"), "Too many open files");
  EXPECT_EQ(paused.get("nofile"), std::to_string(nofile));
  EXPECT_EQ(paused.get("connections"), std::to_string(held.size()));

  // Exhausted: every new client is refused promptly, and the accept loop
  // idles. The window is the measurement, not a wait for an event.
  const auto cpu_before = cpu_time(pid_).value();
  const auto window_start = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i) {
    refused_promptly("attempt " + std::to_string(i) + " while exhausted");
    std::this_thread::sleep_for(200ms);
  }
  const auto window = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - window_start);
  const auto cpu_used = cpu_time(pid_).value() - cpu_before;
  report("exhausted for " + std::to_string(window.count()) + " ms: mtlsd used " + std::to_string(cpu_used.count()) +
         " ms of CPU");
  // A loop retrying accept() would burn the whole window (one core).
  EXPECT_LT(cpu_used, window / 5) << "mtlsd spins while out of descriptors";
  EXPECT_EQ(d.events("accept_paused").size(), 1u) << "one warning per pause, not one per retry";

  // The admin port shares the process's descriptors and the same logic. It
  // needs one descriptor per client, not two: a single free one (a proxied
  // connection refused for lack of its second) may still serve one admin
  // client, so connect until one is refused.
  {
    const auto admin_port = static_cast<std::uint16_t>(std::stoi(admin_address.substr(admin_address.rfind(':') + 1)));
    std::vector<int> accepted;
    bool refused = false;
    for (int i = 0; i < 4 && !refused; ++i) {
      std::string error;
      const int fd = tcp_connect(loopback, admin_port, 5s, &error);
      ASSERT_GE(fd, 0) << error;
      // An accepted admin client is left waiting for its request, a refused one is closed.
      refused = wait_peer_close(fd, 1s).has_value();
      if (refused)
        ::close(fd);
      else
        accepted.push_back(fd);
    }
    for (const int fd : accepted) ::close(fd);
    EXPECT_TRUE(refused) << "admin clients were left waiting";
    const auto admin_paused = d.wait_event("admin_accept_paused", {}, 3s);
    EXPECT_EQ(admin_paused.get("nofile"), std::to_string(nofile));
  }

  // What is open keeps working.
  for (std::size_t i = 0; i < held.size(); ++i)
    EXPECT_TRUE(held[i]->probe("still served\n").admitted) << "held connection " << i;

  // Free some descriptors: the next client is served.
  const std::size_t access_before = d.events("access").size();
  for (int i = 0; i < 3; ++i) {
    held.back()->shutdown();
    held.back()->read_until_eof();
    held.pop_back();
  }
  d.wait_events("access", {}, access_before + 3, 5s);
  {
    tls_client client(options);
    ASSERT_TRUE(client.connect(loopback, port()).ok);
    EXPECT_TRUE(client.probe("served again\n").admitted);
  }
  const auto resumed = d.wait_event("accept_resumed", {}, 5s);
  EXPECT_EQ(resumed.level, "info");
  EXPECT_GE(std::stoull(resumed.get("refused")), 8u);
  report("recovered: accept_resumed paused_ms=" + resumed.get("paused_ms") + " refused=" + resumed.get("refused"));

  // The admin endpoint recovers too, and /metrics tells what happened.
  const auto reply = http_request(admin_address, "/metrics");
  ASSERT_EQ(reply.status, 200) << reply.describe();
  EXPECT_FALSE(d.events("admin_accept_resumed").empty());
  const auto metrics = metrics_text::parse(reply.body);
  EXPECT_GE(metrics.integer("mtlsd_connections_rejected_total", {{"service", "svc"}, {"reason", "descriptors"}}).value_or(0), 8);
  EXPECT_EQ(metrics.integer("mtlsd_accept_paused", {{"service", "svc"}}), 0);
  // Our shortage is not the backend's fault.
  EXPECT_TRUE(d.events("backend_down").empty());
  for (std::size_t i = 0; i < held.size(); ++i) EXPECT_TRUE(held[i]->probe("bye\n").admitted) << "held connection " << i;
}

}  // namespace
}  // namespace mtlsd::test
