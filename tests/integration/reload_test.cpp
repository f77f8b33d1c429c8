// Configuration reload against the real daemon: SIGHUP, [server] watch,
// [server] reload_interval and `mtlsd reload`. What a user depends on: a
// reload under load drops nothing, live connections keep the configuration
// they started with, a broken configuration never replaces a working one,
// kept addresses are never closed, and file changes reload exactly once.

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

constexpr std::uint64_t kib = 1024;

std::uint16_t port_of(const std::string& addr) {
  const auto colon = addr.rfind(':');
  return static_cast<std::uint16_t>(std::stoul(addr.substr(colon + 1)));
}

// 1-based number of the first line of `file` containing `needle`; 0 if none.
int line_of(const fs::path& file, const std::string& needle) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find(needle) != std::string::npos) return n;
  return 0;
}

// Stops and joins the load threads however the test body is left (a fatal
// assertion returns early; a joinable std::thread would terminate the run).
struct thread_group {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  ~thread_group() { join(); }
  void join() {
    stop = true;
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }
};

// What the client loops saw, shared with the test's thread.
struct load_stats {
  std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  std::uint64_t mismatched = 0;
  std::map<std::string, std::uint64_t> certs_seen;
  std::vector<std::string> errors;  // the first few, for the failure message

  void record(const std::string& error, bool mismatch, const std::string& cert) {
    std::lock_guard lock(mutex);
    ++done;
    if (!error.empty()) {
      ++failed;
      if (errors.size() < 10) errors.push_back(error);
    }
    if (mismatch) ++mismatched;
    if (!cert.empty()) ++certs_seen[cert];
    changed.notify_all();
  }
  std::uint64_t completed() {
    std::lock_guard lock(mutex);
    return done;
  }
  // True once `count` more connections finished after `since` (bounded wait).
  bool wait_progress(std::uint64_t since, std::uint64_t count, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, timeout, [&] { return done >= since + count; });
  }
  std::string error_text() {
    std::lock_guard lock(mutex);
    std::string out;
    for (const auto& e : errors) out += "\n  " + e;
    return out;
  }
};

class reload : public mtlsd_test {
 protected:
  void SetUp() override {
    leaf_ = pki().client();
    identity_ = client_identity::of(leaf_);
    names_[pki().server.sha256_hex()] = "server";
  }

  // A server certificate from the test server CA for 127.0.0.1, told apart
  // from the others by its CN (and fingerprint); written as <cn>.crt/.key in
  // `dir` (the scratch directory when empty).
  issued server_cert(const std::string& cn, fs::path dir = {}) {
    cert_spec spec;
    spec.cn = {cn};
    spec.dns = {"localhost"};
    spec.ip = {"127.0.0.1", "::1"};
    spec.eku = eku_kind::server_auth;
    issued cert = issue(spec, pki().server_ca);
    if (dir.empty()) dir = dir_.path();
    write_file(dir / (cn + ".crt"), cert.cert_pem());
    write_file(dir / (cn + ".key"), cert.key_pem());
    names_[cert.sha256_hex()] = cn;
    return cert;
  }

  // One require-mode service in front of `backend` serving <cert>.crt/.key.
  static config_spec one_service(const loopback_server& backend, const std::string& cert,
                                 std::vector<std::string> lines = {}) {
    config_spec c;
    service_spec s = service(backend.connect_url(), "require", std::move(lines));
    s.cert = cert + ".crt";
    s.key = cert + ".key";
    c.services.push_back(s);
    return c;
  }

  // Name of the certificate a new connection to `port` is served (its CN for
  // the ones made here), once that connection is admitted and its bytes came
  // back; otherwise a text saying why not.
  std::string served(std::uint16_t port, std::optional<client_identity> identity = std::nullopt) {
    tls_client client(client_options(identity ? *identity : identity_));
    const auto hs = client.connect(loopback, port);
    if (!hs.ok) return "handshake failed: " + hs.error + " " + hs.alert_received;
    const auto p = client.probe("which certificate?\n");
    if (!p.admitted) return "not admitted: " + p.error + " " + p.alert_received;
    const std::string sha256 = client.peer_certificate_sha256();
    client.shutdown();
    const auto it = names_.find(sha256);
    return it == names_.end() ? "unknown certificate " + sha256 : it->second;
  }

  // The outcome (`reloaded` or `reload_failed`) of the first reload logged
  // after output line `from`.
  log_line wait_outcome(std::size_t from, std::chrono::milliseconds timeout = 10s) {
    const auto ok = log_event("reloaded");
    const auto failed = log_event("reload_failed");
    const line_matcher either([ok, failed](const std::string& l) { return ok.matches(l) || failed.matches(l); },
                              "reloaded or reload_failed");
    return *parse_log_line(daemon().proc().wait_for_line(either, timeout, from));
  }

  log_line sighup_and_wait() {
    const auto from = daemon().proc().line_count();
    daemon().proc().send_signal(SIGHUP);
    return wait_outcome(from);
  }

  // Events logged at output line `from` or later.
  std::vector<log_line> events_since(std::size_t from, const std::string& event,
                                     std::map<std::string, std::string> fields = {}) {
    const auto lines = daemon().proc().lines();
    const auto matcher = log_event(event, std::move(fields));
    std::vector<log_line> out;
    for (std::size_t i = from; i < lines.size(); ++i)
      if (matcher.matches(lines[i].text)) out.push_back(*parse_log_line(lines[i].text));
    return out;
  }

  std::size_t count(const std::string& event, std::map<std::string, std::string> fields = {}) {
    return daemon().events(event, std::move(fields)).size();
  }

  issued leaf_;
  client_identity identity_;
  std::map<std::string, std::string> names_;  // certificate SHA-256 -> name
};

// A macro, so that a failure names the test's line rather than a helper's.
#define EXPECT_RELOADED(line, generation, trigger)                                  \
  do {                                                                              \
    const log_line& outcome_ = (line);                                              \
    EXPECT_EQ(outcome_.event, "reloaded") << "errors=" << outcome_.get("errors");   \
    EXPECT_EQ(outcome_.get("generation"), std::to_string(generation));              \
    EXPECT_EQ(outcome_.get("trigger"), (trigger));                                  \
  } while (false)

TEST_F(reload, reload_under_load_loses_nothing) {
  loopback_server backend(echo_handler(), 120s);
  server_cert("server-a");
  server_cert("server-b");
  start(one_service(backend, "server-a"));
  const std::uint16_t svc_port = port();
  ASSERT_EQ(served(svc_port), "server-a");

  // Full handshakes only (nothing offers a session), 64 KiB echoed per
  // connection and compared byte for byte.
  load_stats stats;
  thread_group load;
  const auto client_loop = [&](std::uint64_t seed) {
    tls_client client(client_options(identity_));
    for (std::uint64_t i = 0; !load.stop && i < 100000; ++i) {
      const std::string payload = payload_source::make(64 * kib, seed * 1000000 + i);
      std::string error, cert;
      bool mismatch = false;
      const auto hs = client.connect(loopback, svc_port);
      if (!hs.ok) {
        error = "handshake: " + hs.error + " " + hs.alert_received;
      } else if (client.session_reused()) {
        error = "session resumed; this test wants full handshakes";
      } else {
        const auto it = names_.find(client.peer_certificate_sha256());
        cert = it == names_.end() ? "unknown" : it->second;
        const auto w = client.write_all(payload);
        const auto r = client.read_exact(payload.size());
        if (!w.ok) {
          error = "write: " + w.error;
        } else if (r.data.size() != payload.size()) {
          error = "read " + std::to_string(r.data.size()) + " of " + std::to_string(payload.size()) + " bytes: " +
                  std::string(to_string(r.end)) + " " + r.error + " " + r.alert_received;
        } else if (r.data != payload) {
          mismatch = true;
        } else if (!client.shutdown()) {
          error = "close_notify could not be sent";
        } else {
          const auto rest = client.read_until_eof();
          if (rest.end != read_end::close_notify || !rest.data.empty())
            error = "end: " + std::string(to_string(rest.end)) + " " + rest.error;
        }
      }
      client.close();
      stats.record(error, mismatch, cert);
    }
  };
  load.threads.emplace_back(client_loop, 1);
  load.threads.emplace_back(client_loop, 2);
  ASSERT_TRUE(stats.wait_progress(0, 2)) << "the client loops made no connection";

  const auto started = clock_type::now();
  constexpr int reloads = 20;
  for (int i = 1; i <= reloads; ++i) {
    const std::string next = i % 2 ? "server-b" : "server-a";
    write_config(one_service(backend, next));
    const auto before = stats.completed();
    EXPECT_RELOADED(sighup_and_wait(), i + 1, "SIGHUP");
    // Connections made after `reloaded` get the new certificate.
    ASSERT_EQ(served(svc_port), next) << "after reload " << i;
    // The loops keep running through every reload, not just beside a few.
    ASSERT_TRUE(stats.wait_progress(before, 4)) << "the client loops stalled at reload " << i;
  }
  const auto elapsed = clock_type::now() - started;
  load.join();

  EXPECT_EQ(stats.failed, 0u) << "of " << stats.done << " connections:" << stats.error_text();
  EXPECT_EQ(stats.mismatched, 0u);
  EXPECT_GT(stats.done, static_cast<std::uint64_t>(reloads));
  EXPECT_GT(stats.certs_seen["server-a"], 0u);
  EXPECT_GT(stats.certs_seen["server-b"], 0u);
  EXPECT_EQ(stats.certs_seen.count("unknown"), 0u);
  // The listening socket was never replaced.
  EXPECT_EQ(count("listening"), 1u);
  EXPECT_EQ(count("listener_closed"), 0u);
  EXPECT_LT(elapsed, 60s);
  RecordProperty("connections", static_cast<int>(stats.done));
  std::cout << "[ info ] " << stats.done << " connections through " << reloads << " reloads in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms\n";
}

TEST_F(reload, live_connection_survives_reload) {
  loopback_server old_backend(echo_handler(), 120s);
  loopback_server new_backend(echo_handler(), 120s);
  cert_spec ca;
  ca.is_ca = true;
  ca.cn = {"mtlsd test other client CA"};
  const issued other_ca = make_self_signed(ca);
  write_file(dir_ / "other-client-ca.crt", other_ca.cert_pem());
  cert_spec other_spec;
  other_spec.cn = {"other-client"};
  const issued other_leaf = issue(other_spec, other_ca);

  config_spec before;
  before.services.push_back(service(old_backend.connect_url()));
  auto& d = start(before);
  tls_client live(client_options(identity_));
  ASSERT_TRUE(live.connect(loopback, port()).ok);
  const std::string hello = "before the reload\n";
  ASSERT_TRUE(live.probe(hello).admitted);

  // The new configuration no longer trusts the live client's CA, and sends
  // new connections elsewhere. With reevaluate_live = false the live
  // connection keeps the rules it was admitted by (by default it would be
  // judged again and closed: revocation_test.cpp).
  config_spec after;
  after.services.push_back(service(new_backend.connect_url(), "require", {"reevaluate_live = false"}));
  after.services[0].truststore = "other-client-ca.crt";
  write_config(after);
  EXPECT_RELOADED(sighup_and_wait(), 2, "SIGHUP");

  // The live connection keeps its backend and moves data both ways at once.
  const std::uint64_t size = 1024 * kib;
  payload_source upload(size, 21);
  write_result written;
  std::thread writer([&] { written = live.write_stream(upload); });
  const auto echoed = live.read_stream(size);
  writer.join();
  EXPECT_TRUE(written.ok) << written.error;
  EXPECT_EQ(echoed.bytes, size) << to_string(echoed.end) << " " << echoed.error;
  EXPECT_EQ(echoed.sha256, payload_source(size, 21).expected_sha256());

  // New connections get the new behaviour: the old client is refused...
  tls_client refused(client_options(identity_));
  const auto hs = refused.connect(loopback, port());
  EXPECT_FALSE(hs.ok && refused.probe().admitted) << "a client of the untrusted CA was admitted";
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "unknown_ca");
  // ...one of the new CA is admitted and reaches the new backend.
  EXPECT_EQ(served(port(), client_identity::of(other_leaf)), "server");
  EXPECT_TRUE(new_backend.wait_accepted(1, 5s));
  EXPECT_EQ(old_backend.accepted(), 1u);

  // The live connection still ends cleanly, every byte on the old backend.
  const std::string bye = "after the reload\n";
  EXPECT_TRUE(live.probe(bye).admitted);
  ASSERT_TRUE(live.shutdown());
  const auto rest = live.read_until_eof();
  EXPECT_EQ(rest.end, read_end::close_notify) << rest.error;
  const auto record = old_backend.wait_finished(1).at(0);
  EXPECT_EQ(record.bytes_received, hello.size() + size + bye.size());
  EXPECT_TRUE(record.eof_received);
  const auto access = d.wait_event("access", {{"backend", old_backend.address()}});
  EXPECT_EQ(access.get("close"), "client_closed");
  EXPECT_EQ(access.get("bytes_from_client"), std::to_string(hello.size() + size + bye.size()));
}

TEST_F(reload, invalid_reload_keeps_serving) {
  loopback_server backend(echo_handler());
  server_cert("server-a");
  server_cert("server-b");
  auto& d = start(one_service(backend, "server-a"));
  const std::uint16_t svc_port = port();
  ASSERT_EQ(served(svc_port), "server-a");

  // Two errors: a key that belongs to another certificate, and an unknown key.
  config_spec broken = one_service(backend, "server-b", {"no_such_setting = 1"});
  broken.services[0].key = "server-a.key";
  const fs::path config = write_config(broken);
  const int key_line = line_of(config, "key = \"server-a.key\"");
  const int unknown_line = line_of(config, "no_such_setting");
  ASSERT_GT(key_line, 0);
  ASSERT_GT(unknown_line, 0);

  const auto from = d.proc().line_count();
  d.proc().send_signal(SIGHUP);
  const auto failed = wait_outcome(from);
  EXPECT_EQ(failed.event, "reload_failed");
  EXPECT_EQ(failed.get("errors"), "2");
  EXPECT_EQ(failed.get("generation"), "1");
  const auto errors = events_since(from, "reload_error");
  ASSERT_EQ(errors.size(), 2u) << d.output();
  const auto at_line = [&](int line) { return config.string() + ":" + std::to_string(line) + ":"; };
  bool saw_key = false, saw_unknown = false;
  for (const auto& e : errors) {
    const std::string text = e.get("error");
    if (text.rfind(at_line(key_line), 0) == 0 && text.find("key") != std::string::npos) saw_key = true;
    if (text.rfind(at_line(unknown_line), 0) == 0 && text.find("no_such_setting") != std::string::npos)
      saw_unknown = true;
  }
  EXPECT_TRUE(saw_key) << "no error at " << at_line(key_line) << " for the mismatched key\n" << d.output();
  EXPECT_TRUE(saw_unknown) << "no error at " << at_line(unknown_line) << " for the unknown key\n" << d.output();

  // The same socket keeps serving the previous configuration.
  EXPECT_EQ(served(svc_port), "server-a");
  EXPECT_EQ(count("listening"), 1u);
  EXPECT_EQ(count("listener_closed"), 0u);

  // Fixed, it loads; a failed reload did not use up a generation.
  write_config(one_service(backend, "server-b"));
  EXPECT_RELOADED(sighup_and_wait(), 2, "SIGHUP");
  EXPECT_EQ(served(svc_port), "server-b");
}

TEST_F(reload, services_added_and_removed) {
  loopback_server first_backend(echo_handler(), 120s);
  loopback_server second_backend(echo_handler(), 120s);
  config_spec before;
  before.services.push_back(service(first_backend.connect_url()));
  before.services[0].name = "first";
  auto& d = start(before);
  const std::uint16_t first_port = port("first");

  tls_client live(client_options(identity_));
  ASSERT_TRUE(live.connect(loopback, first_port).ok);
  ASSERT_TRUE(live.probe("opened before the reload\n").admitted);

  config_spec after;
  after.services.push_back(service(second_backend.connect_url()));
  after.services[0].name = "second";
  write_config(after);
  const auto from = d.proc().line_count();
  d.proc().send_signal(SIGHUP);
  const auto outcome = wait_outcome(from);
  EXPECT_RELOADED(outcome, 2, "SIGHUP");
  EXPECT_EQ(outcome.get("services"), "1");

  // The added service: its own `listening` line, and it serves.
  const auto listening = events_since(from, "listening", {{"svc", "second"}});
  ASSERT_EQ(listening.size(), 1u) << d.output();
  EXPECT_EQ(listening[0].get("tls"), "true");
  EXPECT_EQ(listening[0].get("backend"), second_backend.address());
  const std::uint16_t second_port = port_of(listening[0].get("addr"));
  EXPECT_EQ(served(second_port), "server");
  EXPECT_TRUE(second_backend.wait_accepted(1, 5s));

  // The removed one: closed, and new connections to its port are refused.
  // `listener_closed` is logged once every worker has closed its socket.
  d.wait_event("listener_closed");
  const auto closed = events_since(from, "listener_closed");
  ASSERT_EQ(closed.size(), 1u) << d.output();
  EXPECT_EQ(closed[0].get("svc"), "first");
  EXPECT_EQ(closed[0].get("addr"), loopback + ":" + std::to_string(first_port));
  std::string error;
  const int fd = tcp_connect(loopback, first_port, 1s, &error);
  if (fd >= 0) ::close(fd);
  EXPECT_LT(fd, 0) << "the removed service's port still accepts connections";
  EXPECT_NE(error.find("refused"), std::string::npos) << "connect to the removed service's port: " << error;

  // The connection opened before the reload still works, both ways, to its end.
  const std::uint64_t size = 256 * kib;
  payload_source upload(size, 41);
  write_result written;
  std::thread writer([&] { written = live.write_stream(upload); });
  const auto echoed = live.read_stream(size);
  writer.join();
  EXPECT_TRUE(written.ok) << written.error;
  EXPECT_EQ(echoed.sha256, payload_source(size, 41).expected_sha256()) << echoed.error;
  ASSERT_TRUE(live.shutdown());
  EXPECT_EQ(live.read_until_eof().end, read_end::close_notify);
  const auto access = d.wait_event("access", {{"svc", "first"}});
  EXPECT_EQ(access.get("close"), "client_closed");
  EXPECT_EQ(access.get("backend"), first_backend.address());
  EXPECT_EQ(first_backend.accepted(), 1u);
}

TEST_F(reload, listener_address_kept) {
  loopback_server old_backend(echo_handler(), 120s);
  loopback_server new_backend(echo_handler(), 120s);
  const std::uint16_t fixed_port = closed_port();
  config_spec config;
  config.services.push_back(service(old_backend.connect_url()));
  config.services[0].name = "fixed";
  config.services[0].accept = "tls://127.0.0.1:" + std::to_string(fixed_port);
  config.services.push_back(service(old_backend.connect_url()));
  config.services[1].name = "ephemeral";
  auto& d = start(config);
  ASSERT_EQ(port("fixed"), fixed_port);
  const std::uint16_t ephemeral_port = port("ephemeral");

  // Connections to both ports while the daemon reloads back to back.
  load_stats stats;
  thread_group load;
  load.threads.emplace_back([&] {
    for (std::uint64_t i = 0; !load.stop && i < 100000; ++i) {
      const std::uint16_t p = i % 2 ? fixed_port : ephemeral_port;
      tls_client client(client_options(identity_));
      const auto hs = client.connect(loopback, p);
      std::string error;
      if (!hs.ok) {
        error = "port " + std::to_string(p) + ": " + hs.error;
      } else if (const auto r = client.probe("kept\n"); !r.admitted) {
        error = "port " + std::to_string(p) + ": " + r.error + " " + r.alert_received;
      }
      stats.record(error, false, {});
    }
  });
  for (int i = 1; i <= 10; ++i) {
    const auto before = stats.completed();
    EXPECT_RELOADED(sighup_and_wait(), i + 1, "SIGHUP");
    ASSERT_TRUE(stats.wait_progress(before, 1)) << "the client loop stalled at reload " << i;
  }

  // Renaming a service on a fixed address keeps the socket: it is the
  // address that identifies a listener. The port-0 service keeps its port.
  config.services[0].name = "renamed";
  config.services[0].connect = new_backend.connect_url();
  write_config(config);
  EXPECT_RELOADED(sighup_and_wait(), 12, "SIGHUP");
  const auto before = stats.completed();
  ASSERT_TRUE(stats.wait_progress(before, 2));
  load.join();

  EXPECT_EQ(stats.failed, 0u) << "of " << stats.done << " connections:" << stats.error_text();
  EXPECT_EQ(count("listening"), 2u) << "a kept address was bound again";
  EXPECT_EQ(count("listener_closed"), 0u);
  EXPECT_EQ(served(fixed_port), "server");
  EXPECT_EQ(served(ephemeral_port), "server");
  EXPECT_TRUE(new_backend.wait_accepted(1, 5s));
  EXPECT_EQ(d.wait_event("access", {{"svc", "renamed"}}).get("backend"), new_backend.address());
}

TEST_F(reload, symlink_swap_triggers_exactly_one_reload) {
  // A Kubernetes Secret volume: the files are symlinks through `..data`,
  // itself a symlink to a timestamped directory that kubelet replaces.
  loopback_server backend(echo_handler());
  const fs::path secret = dir_ / "secret";
  server_cert("server-a", secret / "..2026_a");
  fs::rename(secret / "..2026_a" / "server-a.crt", secret / "..2026_a" / "tls.crt");
  fs::rename(secret / "..2026_a" / "server-a.key", secret / "..2026_a" / "tls.key");
  fs::create_directory_symlink("..2026_a", secret / "..data");
  fs::create_symlink("..data/tls.crt", secret / "tls.crt");
  fs::create_symlink("..data/tls.key", secret / "tls.key");

  config_spec config;
  config.server_lines = {"watch = true", R"(log_level = "debug")"};
  config.services.push_back(service(backend.connect_url()));
  config.services[0].cert = "secret/tls.crt";
  config.services[0].key = "secret/tls.key";
  auto& d = start(config);
  ASSERT_EQ(served(port()), "server-a");

  // The swap, step by step as kubelet does it.
  const auto swap_to = [&](const std::string& cn, const std::string& fresh, const std::string& old) {
    server_cert(cn, secret / fresh);
    fs::rename(secret / fresh / (cn + ".crt"), secret / fresh / "tls.crt");
    fs::rename(secret / fresh / (cn + ".key"), secret / fresh / "tls.key");
    fs::create_directory_symlink(fresh, secret / "..data_tmp");
    fs::rename(secret / "..data_tmp", secret / "..data");
    fs::remove_all(secret / old);
  };
  swap_to("server-b", "..2026_b", "..2026_a");
  const auto watched = d.wait_event("reloaded", {{"trigger", "watch"}});
  EXPECT_EQ(watched.get("generation"), "2");
  EXPECT_EQ(served(port()), "server-b");
  // Nothing slipped in between: the next reload is the SIGHUP's, generation 3.
  EXPECT_RELOADED(sighup_and_wait(), 3, "SIGHUP");
  EXPECT_EQ(count("reloading", {{"trigger", "watch"}}), 1u);

  // A file the configuration does not name changes, next to the watched ones.
  write_file(secret / "unrelated.txt", "not a certificate\n");
  write_file(dir_ / "notes.txt", "next to the config file\n");
  // The watch fired and found the named files unchanged.
  d.wait_events("reload_unchanged", {{"trigger", "watch"}}, count("reload_unchanged") + 1);
  EXPECT_RELOADED(sighup_and_wait(), 4, "SIGHUP");
  EXPECT_EQ(count("reloading", {{"trigger", "watch"}}), 1u) << "an unrelated file caused a reload";

  // The next rotation reloads once more.
  swap_to("server-c", "..2026_c", "..2026_b");
  EXPECT_EQ(d.wait_event("reloaded", {{"trigger", "watch"}, {"generation", "5"}}).get("services"), "1");
  EXPECT_EQ(served(port()), "server-c");
  EXPECT_RELOADED(sighup_and_wait(), 6, "SIGHUP");
  EXPECT_EQ(count("reloading", {{"trigger", "watch"}}), 2u);
  EXPECT_EQ(count("reload_failed"), 0u);
}

TEST_F(reload, reload_interval_picks_up_changed_cert) {
  loopback_server backend(echo_handler());
  server_cert("server-a");
  const issued b = server_cert("server-b");
  config_spec config = one_service(backend, "server-a");
  config.server_lines = {R"(reload_interval = "250ms")", R"(log_level = "debug")"};
  auto& d = start(config);
  ASSERT_EQ(served(port()), "server-a");

  // Several intervals with nothing changed: no reload.
  d.wait_events("reload_unchanged", {{"trigger", "reload_interval"}}, 3);
  EXPECT_EQ(count("reloading"), 0u) << "unchanged files were reloaded";

  // Replace the files in place (each by rename, so no half-written file is
  // read; the pair is not atomic, so a tick between the two renames may fail
  // once and the next one succeeds).
  write_file(dir_ / "next.key", b.key_pem());
  write_file(dir_ / "next.crt", b.cert_pem());
  fs::rename(dir_ / "next.key", dir_ / "server-a.key");
  fs::rename(dir_ / "next.crt", dir_ / "server-a.crt");
  const auto reloaded = d.wait_event("reloaded", {{"trigger", "reload_interval"}}, 5s);
  EXPECT_EQ(reloaded.get("generation"), "2");
  EXPECT_EQ(served(port()), "server-b");

  // Once loaded, the same files are not loaded again and again.
  d.wait_events("reload_unchanged", {{"trigger", "reload_interval"}}, count("reload_unchanged") + 3);
  EXPECT_EQ(count("reloaded"), 1u);
}

TEST_F(reload, mtlsd_reload_command) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.server_lines = {R"(pid_file = "mtlsd.pid")"};
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);
  const fs::path pid_file = dir_ / "mtlsd.pid";
  const fs::path config_file = dir_ / "mtlsd.toml";

  ASSERT_TRUE(fs::exists(pid_file));
  std::ifstream in(pid_file);
  pid_t written = 0;
  in >> written;
  EXPECT_EQ(written, d.proc().pid());

  auto from = d.proc().line_count();
  auto r = run_command({mtlsd_binary, "reload", "--pid-file", pid_file.string()}, 10s);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(std::to_string(d.proc().pid())), std::string::npos) << r.out;
  EXPECT_RELOADED(wait_outcome(from), 2, "SIGHUP");

  from = d.proc().line_count();
  r = run_command({mtlsd_binary, "reload", "--config", config_file.string()}, 10s);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_RELOADED(wait_outcome(from), 3, "SIGHUP");

  const fs::path missing = dir_ / "no-such-dir" / "mtlsd.pid";
  r = run_command({mtlsd_binary, "reload", "--pid-file", missing.string()}, 10s);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find(missing.string()), std::string::npos) << r.err;

  // A config without pid_file cannot tell where the daemon is.
  config_spec no_pid;
  no_pid.services.push_back(service(backend.connect_url()));
  const auto other_config = write_config(no_pid, "no-pid.toml");
  r = run_command({mtlsd_binary, "reload", "--config", other_config.string()}, 10s);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("pid_file"), std::string::npos) << r.err;

  EXPECT_EQ(count("reloading"), 2u) << "a failed `mtlsd reload` still signalled the daemon";
  EXPECT_TRUE(fs::exists(pid_file)) << "the pid file vanished while the daemon runs";
  d.proc().send_signal(SIGTERM);
  EXPECT_EQ(d.proc().wait_exit_and_output(10s), 0);
  EXPECT_FALSE(fs::exists(pid_file)) << "the pid file outlived the daemon";
}

TEST_F(reload, restart_only_setting_changed) {
  loopback_server backend(echo_handler());
  server_cert("server-a");
  server_cert("server-b");
  config_spec config = one_service(backend, "server-a");
  config.server_lines = {"workers = 1"};
  auto& d = start(config);
  EXPECT_EQ(d.wait_event("ready").get("workers"), "1");

  // A new worker count needs a restart; the rest of the reload still applies.
  config = one_service(backend, "server-b");
  config.server_lines = {"workers = 2"};
  write_config(config);
  auto from = d.proc().line_count();
  d.proc().send_signal(SIGHUP);
  EXPECT_RELOADED(wait_outcome(from), 2, "SIGHUP");
  const auto notes = events_since(from, "reload_restart_required");
  ASSERT_EQ(notes.size(), 1u) << d.output();
  EXPECT_EQ(notes[0].get("key"), "server.workers");
  EXPECT_EQ(served(port()), "server-b");

  // Back to the running value: nothing to report.
  config.server_lines = {"workers = 1"};
  write_config(config);
  from = d.proc().line_count();
  d.proc().send_signal(SIGHUP);
  EXPECT_RELOADED(wait_outcome(from), 3, "SIGHUP");
  EXPECT_TRUE(events_since(from, "reload_restart_required").empty()) << d.output();
}

TEST_F(reload, watch_reloads_a_config_replaced_by_rename) {
  // Configuration management writes a temporary file elsewhere and renames
  // it over the old one: the old file's inode never changes, and the only
  // event in the watched directory is the arrival by rename.
  loopback_server backend(echo_handler());
  server_cert("server-a");
  server_cert("server-b");
  config_spec next = one_service(backend, "server-b");
  next.server_lines = {"watch = true"};
  const fs::path staging = dir_ / "staging" / "mtlsd.toml";
  write_file(staging, render_config(next));
  config_spec config = one_service(backend, "server-a");
  config.server_lines = {"watch = true"};
  auto& d = start(config);

  const auto from = d.proc().line_count();
  fs::rename(staging, dir_ / "mtlsd.toml");
  EXPECT_RELOADED(wait_outcome(from), 2, "watch");
  EXPECT_EQ(served(port()), "server-b");
}

TEST_F(reload, watch_follows_the_files_a_reload_names) {
  // After a reload names certificates in another directory, a change there
  // reloads too: the watch set is the running configuration's.
  loopback_server backend(echo_handler());
  server_cert("server-a");
  server_cert("server-b", dir_ / "rotated");
  server_cert("server-c", dir_ / "staging");
  config_spec config = one_service(backend, "server-a");
  config.server_lines = {"watch = true"};
  auto& d = start(config);

  config = one_service(backend, "rotated/server-b");
  config.server_lines = {"watch = true"};
  write_config(config);
  d.wait_event("reloaded", {{"trigger", "watch"}, {"generation", "2"}});
  ASSERT_EQ(served(port()), "server-b");

  // The pair is replaced by two renames; a check between them may fail once
  // (key and certificate differ), the next one loads the pair.
  fs::rename(dir_ / "staging" / "server-c.key", dir_ / "rotated" / "server-b.key");
  fs::rename(dir_ / "staging" / "server-c.crt", dir_ / "rotated" / "server-b.crt");
  d.wait_event("reloaded", {{"trigger", "watch"}, {"generation", "3"}});
  EXPECT_EQ(served(port()), "server-c");
}

TEST_F(reload, sighup_while_draining_is_skipped) {
  loopback_server backend(echo_handler(), 120s);
  config_spec config;
  config.server_lines = {R"(drain_timeout = "10s")"};
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);
  tls_client live(client_options(identity_));
  ASSERT_TRUE(live.connect(loopback, port()).ok);
  ASSERT_TRUE(live.probe().admitted);

  d.proc().send_signal(SIGTERM);
  d.wait_event("draining");
  d.proc().send_signal(SIGHUP);
  EXPECT_EQ(d.wait_event("reload_skipped").get("reason"), "draining");
  // The drain goes on undisturbed: the live connection still works, and its
  // end lets the daemon exit.
  EXPECT_TRUE(live.probe("still here\n").admitted);
  ASSERT_TRUE(live.shutdown());
  EXPECT_EQ(live.read_until_eof().end, read_end::close_notify);
  EXPECT_EQ(d.proc().wait_exit_and_output(10s), 0);
  EXPECT_EQ(count("reloading"), 0u);
}

TEST_F(reload, a_session_from_before_a_reload_resumes_only_under_the_same_policy) {
  // With shared ticket keys a ticket outlives the configuration that issued
  // it. Resuming skips the client certificate check, so a ticket must not
  // resume once the reloaded truststore no longer admits its client.
  loopback_server old_backend(echo_handler());
  loopback_server new_backend(echo_handler());
  write_file(dir_ / "tickets.key", random_ticket_key_hex() + "\n");
  fs::permissions(dir_ / "tickets.key", fs::perms::owner_read | fs::perms::owner_write);
  cert_spec ca;
  ca.is_ca = true;
  ca.cn = {"mtlsd test other client CA"};
  write_file(dir_ / "other-client-ca.crt", make_self_signed(ca).cert_pem());
  const auto config_with = [&](const loopback_server& backend, const std::string& truststore) {
    config_spec c;
    c.services.push_back(service(backend.connect_url(), "require", {R"(session_ticket_key_file = "tickets.key")"}));
    c.services[0].truststore = truststore;
    return c;
  };
  start(config_with(old_backend, "client-ca.crt"));

  struct visit {
    bool admitted = false, resumed = false;
    std::shared_ptr<SSL_SESSION> session;
  };
  const auto connect = [&](std::shared_ptr<SSL_SESSION> offer) {
    tls_client client(client_options(identity_));
    client.offer_session(std::move(offer));
    visit v;
    if (!client.connect(loopback, port()).ok) return v;
    v.resumed = client.session_reused();
    v.admitted = client.probe().admitted;  // also collects the TLS 1.3 ticket
    v.session = client.session();
    client.shutdown();
    return v;
  };
  const visit first = connect(nullptr);
  ASSERT_TRUE(first.admitted);
  ASSERT_TRUE(first.session) << "no resumable session from the server";

  // Same client policy, another backend: the ticket resumes, into the new configuration.
  write_config(config_with(new_backend, "client-ca.crt"));
  EXPECT_RELOADED(sighup_and_wait(), 2, "SIGHUP");
  const visit same_policy = connect(first.session);
  EXPECT_TRUE(same_policy.admitted);
  EXPECT_TRUE(same_policy.resumed) << "an unchanged policy should keep resuming across a reload";
  EXPECT_TRUE(new_backend.wait_accepted(1, 5s));
  ASSERT_TRUE(same_policy.session);

  // The client's CA is no longer trusted: the ticket must not get it in.
  write_config(config_with(new_backend, "other-client-ca.crt"));
  EXPECT_RELOADED(sighup_and_wait(), 3, "SIGHUP");
  const visit revoked = connect(same_policy.session);
  EXPECT_FALSE(revoked.resumed) << "a session admitted by the old truststore was resumed";
  EXPECT_FALSE(revoked.admitted) << "a client the truststore no longer trusts was admitted";
}

// An operator edits the config to name new files first and copies the files
// in afterwards: the first reload fails (file not found), and the files'
// arrival must be picked up without another SIGHUP: after a failed reload
// the daemon also fingerprints (and watches) what the failed configuration
// names, not only the running configuration's files.
class reload_retry : public reload {
 protected:
  void check(const std::string& server_line, const std::string& trigger) {
    loopback_server backend(echo_handler());
    server_cert("server-a");
    config_spec config = one_service(backend, "server-a");
    config.server_lines = {server_line};
    auto& d = start(config);

    config_spec next = one_service(backend, "server-b");
    next.server_lines = {server_line};
    std::size_t from = d.proc().line_count();
    write_config(next);
    EXPECT_EQ(wait_outcome(from).event, "reload_failed");
    from = d.proc().line_count();
    server_cert("server-b");
    EXPECT_RELOADED(wait_outcome(from, 5s), 2, trigger);
    EXPECT_EQ(served(port()), "server-b");
  }
};

TEST_F(reload_retry, watch_picks_up_a_file_only_the_new_config_names) {
  check("watch = true", "watch");
}

TEST_F(reload_retry, reload_interval_picks_up_a_file_only_the_new_config_names) {
  check(R"(reload_interval = "250ms")", "reload_interval");
}

// The same address written another way ("localhost" -> "127.0.0.1") is the
// same socket: listeners are keyed by the resolved address. Keyed by the
// text, the reload would bind a second socket while the first still listens,
// which fails without SO_REUSEPORT (workers = 1: "Address already in use").
TEST_F(reload, an_address_written_differently_reloads_with_one_worker) {
  loopback_server backend(echo_handler());
  const std::uint16_t fixed_port = closed_port();
  config_spec config;
  config.server_lines = {"workers = 1"};
  config.services.push_back(service(backend.connect_url()));
  config.services[0].accept = "tls://localhost:" + std::to_string(fixed_port);
  start(config);
  config.services[0].accept = "tls://127.0.0.1:" + std::to_string(fixed_port);
  write_config(config);
  EXPECT_RELOADED(sighup_and_wait(), 2, "SIGHUP");
  EXPECT_EQ(served(fixed_port), "server");
}

// Two services whose addresses are spelled differently but resolve to one
// socket pass the config check (it compares the text); the reload must
// refuse them by name rather than let one service silently take the other's
// connections.
TEST_F(reload, two_spellings_of_one_address_fail_the_reload_and_name_both_services) {
  loopback_server backend(echo_handler());
  const std::uint16_t fixed_port = closed_port();
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  config.services[0].accept = "tls://127.0.0.1:" + std::to_string(fixed_port);
  start(config);
  service_spec twin = service(backend.connect_url());
  twin.name = "twin";
  twin.accept = "tls://localhost:" + std::to_string(fixed_port);
  config.services.push_back(twin);
  write_config(config);
  const log_line outcome = sighup_and_wait();
  EXPECT_EQ(outcome.event, "reload_failed");
  const auto errors = daemon().events("reload_error");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].get("error").find("service twin"), std::string::npos) << errors[0].get("error");
  EXPECT_NE(errors[0].get("error").find("same socket as service svc"), std::string::npos) << errors[0].get("error");
  EXPECT_EQ(served(fixed_port), "server");
}

}  // namespace
}  // namespace mtlsd::test
