// [server] sandbox against the real daemon: confined by default (seccomp
// mode 2 and no_new_privs, visible in /proc/<pid>/status), unconfined when
// switched off, certificate rotation in a named directory still reloads,
// and a reload that needs a file the sandbox does not cover fails with an
// error saying so while the running configuration keeps serving. The rest
// of the suite runs with the sandbox on too (it is the default).

#include <csignal>
#include <fstream>
#include <string>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

namespace fs = std::filesystem;

std::string status_field(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + ":", 0) == 0) {
      std::string value = line.substr(name.size() + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  return "";
}

class sandbox : public mtlsd_test {
 protected:
  void SetUp() override {
    leaf_ = pki().client();
    identity_ = client_identity::of(leaf_);
  }

  // A server certificate for localhost, written as <dir>/<name>.crt and .key.
  issued server_cert(const fs::path& dir, const std::string& name, const std::string& cn) {
    cert_spec spec;
    spec.cn = {cn};
    spec.dns = {"localhost"};
    spec.ip = {"127.0.0.1", "::1"};
    spec.eku = eku_kind::server_auth;
    issued cert = issue(spec, pki().server_ca);
    write_file(dir / (name + ".crt"), cert.cert_pem());
    write_file(dir / (name + ".key"), cert.key_pem());
    return cert;
  }

  config_spec one_service(const loopback_server& backend, const fs::path& cert, const fs::path& key,
                          std::vector<std::string> server_lines = {}) {
    config_spec c;
    c.server_lines = std::move(server_lines);
    service_spec s = service(backend.connect_url());
    s.cert = cert.string();
    s.key = key.string();
    c.services.push_back(s);
    return c;
  }

  // The SHA-256 of the certificate the daemon serves, "" when no round trip.
  std::string served() {
    tls_client client(client_options(identity_));
    if (!client.connect(loopback, port()).ok) return "";
    if (!client.probe("which certificate?\n").admitted) return "";
    const std::string sha256 = client.peer_certificate_sha256();
    client.shutdown();
    return sha256;
  }

  log_line sighup_and_wait() {
    const auto from = daemon().proc().line_count();
    daemon().proc().send_signal(SIGHUP);
    const auto ok = log_event("reloaded");
    const auto failed = log_event("reload_failed");
    const line_matcher either([ok, failed](const std::string& l) { return ok.matches(l) || failed.matches(l); },
                              "reloaded or reload_failed");
    return *parse_log_line(daemon().proc().wait_for_line(either, 10s, from));
  }

  std::vector<std::string> reload_errors() {
    std::vector<std::string> out;
    for (const auto& e : daemon().events("reload_error")) out.push_back(e.get("error"));
    return out;
  }

  issued leaf_;
  client_identity identity_;
};

TEST_F(sandbox, is_on_by_default_and_visible_in_proc_status) {
  loopback_server backend(echo_handler());
  auto& d = start(one_service(backend, "server.crt", "server.key"));
  const auto applied = d.events("sandbox_applied");
  ASSERT_EQ(applied.size(), 1u) << d.output();
  EXPECT_GT(std::stoul(applied.front().get("paths")), 0u);
  const pid_t pid = d.proc().pid();
  EXPECT_EQ(status_field(pid, "NoNewPrivs"), "1");
  if (applied.front().get("seccomp") == "on") {
    EXPECT_EQ(status_field(pid, "Seccomp"), "2");
  } else {
    // A kernel or container without seccomp: said so, and still serving.
    EXPECT_FALSE(d.events("sandbox_degraded").empty()) << d.output();
  }
  EXPECT_EQ(served(), pki().server.sha256_hex());
}

TEST_F(sandbox, switched_off_leaves_the_process_unconfined) {
  loopback_server backend(echo_handler());
  temp_dir elsewhere;
  const issued other = server_cert(elsewhere.path(), "other", "other");
  auto& d = start(one_service(backend, "server.crt", "server.key", {"sandbox = false"}));
  EXPECT_EQ(d.events("sandbox_applied").size(), 0u);
  EXPECT_EQ(d.events("sandbox_disabled").size(), 1u) << d.output();
  EXPECT_EQ(status_field(d.proc().pid(), "Seccomp"), "0");
  EXPECT_EQ(status_field(d.proc().pid(), "NoNewPrivs"), "0");

  // Without the sandbox, nothing stops a reload from naming a new directory.
  write_config(one_service(backend, elsewhere / "other.crt", elsewhere / "other.key", {"sandbox = false"}));
  const auto outcome = sighup_and_wait();
  EXPECT_EQ(outcome.event, "reloaded") << d.output();
  EXPECT_EQ(served(), other.sha256_hex());
}

TEST_F(sandbox, a_reload_naming_a_file_outside_the_allowed_paths_fails_and_keeps_serving) {
  loopback_server backend(echo_handler());
  temp_dir elsewhere;
  server_cert(elsewhere.path(), "other", "other");
  auto& d = start(one_service(backend, "server.crt", "server.key"));
  const auto applied = d.events("sandbox_applied");
  ASSERT_EQ(applied.size(), 1u) << d.output();
  if (applied.front().get("landlock") == "off") GTEST_SKIP() << "no Landlock on this kernel: no path is blocked";

  write_config(one_service(backend, elsewhere / "other.crt", elsewhere / "other.key"));
  const auto outcome = sighup_and_wait();
  EXPECT_EQ(outcome.event, "reload_failed") << d.output();
  EXPECT_EQ(outcome.get("generation"), "1");
  const auto errors = reload_errors();
  ASSERT_FALSE(errors.empty()) << d.output();
  const std::string& first = errors.front();
  EXPECT_EQ(first.rfind((elsewhere / "other.crt").string() + ": ", 0), 0u) << first;
  EXPECT_NE(first.find("outside the paths the sandbox allows"), std::string::npos) << first;
  EXPECT_NE(first.find("restart mtlsd"), std::string::npos) << first;
  // Both files are named, each once.
  std::size_t sandbox_errors = 0;
  for (const auto& e : errors) sandbox_errors += e.find("sandbox allows") != std::string::npos ? 1 : 0;
  EXPECT_EQ(sandbox_errors, 2u) << d.output();

  // The previous configuration keeps serving on the same socket.
  EXPECT_EQ(served(), pki().server.sha256_hex());
}

TEST_F(sandbox, a_certificate_replaced_by_rename_in_its_directory_reloads) {
  // The certificates live apart from the config, so only their own
  // directory's rule makes the new file readable.
  loopback_server backend(echo_handler());
  temp_dir certs;
  server_cert(certs.path(), "tls", "first");
  auto& d = start(one_service(backend, certs / "tls.crt", certs / "tls.key"));
  ASSERT_EQ(d.events("sandbox_applied").size(), 1u) << d.output();
  const std::string before = served();
  ASSERT_FALSE(before.empty()) << d.output();

  // A new pair written beside the old one, then renamed over it (what
  // cert-manager, certbot hooks and `install` do): new inodes.
  const issued second = server_cert(certs.path(), "tls-new", "second");
  fs::rename(certs / "tls-new.crt", certs / "tls.crt");
  fs::rename(certs / "tls-new.key", certs / "tls.key");
  const auto outcome = sighup_and_wait();
  EXPECT_EQ(outcome.event, "reloaded") << d.output();
  EXPECT_EQ(served(), second.sha256_hex()) << d.output();
}

// Started through a filter that answers the Landlock calls (and, for
// "all", the seccomp calls) as a kernel without them does.
class sandbox_unsupported : public sandbox {
 protected:
  mtlsd_daemon& start_without(const std::string& what, const config_spec& spec) {
    daemon_ = std::make_unique<mtlsd_daemon>(
        std::vector<std::string>{MTLSD_WITHOUT_CONFINEMENT_BINARY, what, mtlsd_binary, "run", "--config",
                                 write_config(spec).string()},
        process_options{});
    return *daemon_;
  }
};

TEST_F(sandbox_unsupported, without_landlock_the_seccomp_filter_still_applies) {
  loopback_server backend(echo_handler());
  auto& d = start_without("landlock", one_service(backend, "server.crt", "server.key"));
  const auto degraded = d.events("sandbox_degraded");
  ASSERT_EQ(degraded.size(), 1u) << d.output();
  EXPECT_NE(degraded.front().get("reason").find("landlock unavailable"), std::string::npos) << d.output();
  EXPECT_EQ(degraded.front().level, "warn");
  const auto applied = d.events("sandbox_applied");
  ASSERT_EQ(applied.size(), 1u) << d.output();
  EXPECT_EQ(applied.front().get("landlock"), "off");
  EXPECT_EQ(applied.front().get("seccomp"), "on");
  EXPECT_EQ(applied.front().get("paths"), "0");
  EXPECT_EQ(served(), pki().server.sha256_hex());

  // No Landlock, so no file is out of reach and none is refused.
  temp_dir elsewhere;
  const issued other = server_cert(elsewhere.path(), "other", "other");
  write_config(one_service(backend, elsewhere / "other.crt", elsewhere / "other.key"));
  EXPECT_EQ(sighup_and_wait().event, "reloaded") << d.output();
  EXPECT_EQ(served(), other.sha256_hex());
}

TEST_F(sandbox_unsupported, without_landlock_and_seccomp_mtlsd_still_serves_and_says_so) {
  loopback_server backend(echo_handler());
  auto& d = start_without("all", one_service(backend, "server.crt", "server.key"));
  const auto degraded = d.events("sandbox_degraded");
  ASSERT_EQ(degraded.size(), 2u) << d.output();
  EXPECT_NE(degraded[0].get("reason").find("landlock unavailable"), std::string::npos) << d.output();
  EXPECT_NE(degraded[1].get("reason").find("seccomp unavailable"), std::string::npos) << d.output();
  const auto applied = d.events("sandbox_applied");
  ASSERT_EQ(applied.size(), 1u) << d.output();
  EXPECT_EQ(applied.front().get("landlock"), "off");
  EXPECT_EQ(applied.front().get("seccomp"), "off");
  EXPECT_EQ(served(), pki().server.sha256_hex());
}

}  // namespace
}  // namespace mtlsd::test
