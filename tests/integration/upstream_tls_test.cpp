// TLS origination (connect = "tls://..."): mtlsd presents its
// [service.upstream] client certificate to a backend that requires one,
// verifies the backend (CA and name), resumes sessions, and passes ALPN on.
// Refusals in either direction are logged as upstream_handshake_failed and
// close the client's connection while the daemon keeps serving.

#include <sys/socket.h>
#include <unistd.h>

#include "integration.hpp"
#include "tls_backend.hpp"

namespace mtlsd::test {
namespace {

class upstream_tls : public mtlsd_test {
 protected:
  void SetUp() override {
    cert_spec backend_spec;
    backend_spec.cn = {"backend"};
    backend_spec.dns = {"localhost"};
    backend_spec.ip = {"127.0.0.1"};
    backend_spec.eku = eku_kind::server_auth;
    backend_cert_ = issue(backend_spec, pki().server_ca);
    cert_spec ours;
    ours.cn = {"mtlsd-upstream"};
    upstream_client_ = pki().write_client("upstream", pki().client(ours));
  }

  std::unique_ptr<tls_backend> backend(X509* client_ca, std::vector<std::string> alpn = {}) {
    tls_backend_options o;
    o.cert = backend_cert_.cert.get();
    o.key = backend_cert_.key.get();
    o.client_ca = client_ca;
    o.alpn = std::move(alpn);
    return std::make_unique<tls_backend>(o);
  }

  // [service.upstream] as an inline table; `extra` are more `key = value` pairs.
  std::string upstream_line(const std::string& truststore, const std::string& extra = "") {
    return "upstream = { cert = " + toml_string(upstream_client_.cert_file.string()) +
           ", key = " + toml_string(upstream_client_.key_file.string()) +
           ", truststore = " + toml_string(truststore) + (extra.empty() ? "" : ", " + extra) + " }";
  }

  // A client-mode service: plain TCP in, TLS to the backend.
  service_spec client_mode(std::uint16_t backend_port, const std::string& truststore = "server-ca.crt",
                           const std::string& extra = "") {
    service_spec s;
    s.accept = "tcp://127.0.0.1:0";
    s.connect = "tls://127.0.0.1:" + std::to_string(backend_port);
    s.verify_client = "";
    s.tls_files = false;
    s.lines = {upstream_line(truststore, extra)};
    return s;
  }

  // Plain TCP round trip; returns what came back before EOF or `payload.size()` bytes.
  std::string plain_round_trip(const std::string& payload) { return tcp_exchange(loopback, port(), payload); }

  issued backend_cert_;
  client_identity upstream_client_;
};

TEST_F(upstream_tls, client_mode_presents_our_certificate_and_echoes_without_sni_for_an_ip) {
  auto b = backend(pki().client_ca.cert.get());
  start({{}, {}, {client_mode(b->port())}});
  EXPECT_EQ(plain_round_trip("hello backend\n"), "hello backend\n");
  const auto records = b->wait_records(1);
  ASSERT_TRUE(records[0].handshake_ok) << records[0].error;
  EXPECT_NE(records[0].client_subject.find("CN=mtlsd-upstream"), std::string::npos) << records[0].client_subject;
  EXPECT_EQ(records[0].sni, "");  // RFC 6066: never an IP literal
  EXPECT_FALSE(records[0].resumed);
  const auto access = daemon().wait_event("access", {{"close", "client_closed"}});
  EXPECT_EQ(access.get("upstream_resumed"), "false");
}

TEST_F(upstream_tls, second_connection_to_the_same_backend_resumes_the_session) {
  auto b = backend(pki().client_ca.cert.get());
  start({{}, {}, {client_mode(b->port())}});
  ASSERT_EQ(plain_round_trip("one\n"), "one\n");
  daemon().wait_event("access", {{"upstream_resumed", "false"}});
  ASSERT_EQ(plain_round_trip("two\n"), "two\n");
  const auto records = b->wait_records(2);
  EXPECT_FALSE(records[0].resumed);
  EXPECT_TRUE(records[1].resumed);
  EXPECT_NE(records[1].client_subject.find("CN=mtlsd-upstream"), std::string::npos);
  daemon().wait_event("access", {{"upstream_resumed", "true"}});
}

TEST_F(upstream_tls, backend_that_trusts_another_ca_refuses_us_and_the_daemon_keeps_serving) {
  const issued other_ca = make_self_signed([] {
    cert_spec s;
    s.cn = {"another CA"};
    s.is_ca = true;
    return s;
  }());
  auto b = backend(other_ca.cert.get());
  start({{}, {}, {client_mode(b->port())}});
  for (int i = 1; i <= 2; ++i) {
    EXPECT_EQ(plain_round_trip("refused\n"), "");
    const auto failed = daemon().wait_events("upstream_handshake_failed", {{"reason", "unknown_ca"}}, i);
    EXPECT_NE(failed.back().get("detail").find("backend sent alert: unknown ca"), std::string::npos)
        << failed.back().get("detail");
    EXPECT_EQ(failed.back().level, "warn");
  }
  const auto access = daemon().wait_events("access", {{"close", "backend_handshake_failed"}}, 2);
  EXPECT_EQ(access.back().get("reason"), "unknown_ca");
}

TEST_F(upstream_tls, backend_certificate_from_an_unknown_ca_is_refused) {
  auto b = backend(pki().client_ca.cert.get());
  start({{}, {}, {client_mode(b->port(), "client-ca.crt")}});
  EXPECT_EQ(plain_round_trip("x\n"), "");
  const auto failed = daemon().wait_event("upstream_handshake_failed", {{"reason", "unknown_ca"}});
  EXPECT_NE(failed.get("detail").find("CN=backend"), std::string::npos) << failed.get("detail");
  daemon().wait_event("access", {{"close", "backend_handshake_failed"}, {"reason", "unknown_ca"}});
}

TEST_F(upstream_tls, a_backend_whose_handshake_fails_is_skipped_and_no_client_fails) {
  // Same names as the good backend, but a certificate nobody issued.
  cert_spec rogue_spec;
  rogue_spec.cn = {"rogue backend"};
  rogue_spec.dns = {"localhost"};
  rogue_spec.ip = {"127.0.0.1"};
  rogue_spec.eku = eku_kind::server_auth;
  const issued rogue_cert = make_self_signed(rogue_spec);
  tls_backend_options o;
  o.cert = rogue_cert.cert.get();
  o.key = rogue_cert.key.get();
  o.client_ca = pki().client_ca.cert.get();
  tls_backend rogue(o);
  auto good = backend(pki().client_ca.cert.get());
  const std::string rogue_address = "127.0.0.1:" + std::to_string(rogue.port());
  service_spec s = client_mode(good->port(), "server-ca.crt", "");
  s.connect_list = {"tls://" + rogue_address, "tls://127.0.0.1:" + std::to_string(good->port())};
  s.lines.push_back(R"(fail_timeout = "60s")");
  start({{}, {}, {s}});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(plain_round_trip("through\n"), "through\n") << "client " << i;
  daemon().wait_events("access", {{"close", "client_closed"}}, 4);
  // Tried once, then out of rotation for fail_timeout: one refusal, logged with its reason.
  const auto failed = daemon().events("upstream_handshake_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].get("reason"), "unknown_ca");
  EXPECT_EQ(failed[0].get("backend"), rogue_address);
  const auto down = daemon().wait_event("backend_down", {{"backend", rogue_address}});
  EXPECT_NE(down.get("error").find("TLS handshake failed"), std::string::npos) << down.get("error");
  EXPECT_EQ(daemon().events("access", {{"close", "backend_handshake_failed"}}).size(), 0u);
  for (const auto& record : good->wait_records(4)) EXPECT_TRUE(record.handshake_ok) << record.error;
}

TEST_F(upstream_tls, hostname_mismatch_is_refused_naming_both_names_and_verify_hostname_false_admits) {
  auto b = backend(pki().client_ca.cert.get());
  service_spec strict = client_mode(b->port(), "server-ca.crt", R"(server_name = "api.partner.example")");
  service_spec lax = client_mode(b->port(), "server-ca.crt",
                                 R"(server_name = "api.partner.example", verify_hostname = false)");
  lax.name = "lax";
  start({{}, {}, {strict, lax}});
  EXPECT_EQ(plain_round_trip("x\n"), "");
  const auto failed = daemon().wait_event("upstream_handshake_failed", {{"reason", "hostname_mismatch"}});
  EXPECT_NE(failed.get("detail").find("api.partner.example"), std::string::npos) << failed.get("detail");
  EXPECT_NE(failed.get("detail").find("dns:localhost"), std::string::npos) << failed.get("detail");

  const int fd = tcp_connect(loopback, port("lax"), 5s);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::send(fd, "ok\n", 3, MSG_NOSIGNAL), 3);
  char buf[3];
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_EQ(::recv(fd, buf, sizeof buf, MSG_WAITALL), 3);
  ::close(fd);
  const auto records = b->wait_records(2);
  EXPECT_EQ(records.back().sni, "api.partner.example");
}

TEST_F(upstream_tls, gateway_mode_verifies_both_legs_and_passes_the_clients_alpn_on) {
  auto b = backend(pki().client_ca.cert.get(), {"http/1.1", "h2"});
  service_spec s = service("tls://127.0.0.1:" + std::to_string(b->port()));
  s.lines = {upstream_line("server-ca.crt"), R"(alpn = ["h2", "http/1.1"])"};
  start({{}, {}, {s}});
  const issued leaf = pki().client();
  auto options = client_options(client_identity::of(leaf));
  options.alpn = {"h2"};
  tls_client client(options);
  const auto hs = client.connect(loopback, port());
  ASSERT_TRUE(hs.ok) << hs.error << " " << hs.alert_received;
  EXPECT_TRUE(client.probe().admitted);
  const auto records = b->wait_records(1);
  EXPECT_EQ(records[0].alpn, "h2");
  EXPECT_NE(records[0].client_subject.find("CN=mtlsd-upstream"), std::string::npos);
  client.close();
  const auto access = daemon().wait_event("access", {{"alpn", "h2"}});
  EXPECT_EQ(access.get("verify"), "ok");
}

TEST_F(upstream_tls, backend_that_requires_a_certificate_when_none_is_configured_says_so) {
  auto b = backend(pki().client_ca.cert.get());
  service_spec s = client_mode(b->port());
  s.lines = {R"(upstream = { truststore = "server-ca.crt" })"};
  start({{}, {}, {s}});
  EXPECT_EQ(plain_round_trip("x\n"), "");
  const auto failed = daemon().wait_event("upstream_handshake_failed", {{"reason", "no_certificate"}});
  EXPECT_NE(failed.get("detail").find("certificate required"), std::string::npos) << failed.get("detail");
  EXPECT_NE(failed.get("detail").find("no client certificate configured"), std::string::npos);
}

TEST_F(upstream_tls, upstream_alpn_is_offered_instead_of_the_clients_protocol) {
  auto b = backend(pki().client_ca.cert.get(), {"h2", "http/1.1"});
  start({{}, {}, {client_mode(b->port(), "server-ca.crt", R"(alpn = ["http/1.1"])")}});
  EXPECT_EQ(plain_round_trip("x\n"), "x\n");
  EXPECT_EQ(b->wait_records(1)[0].alpn, "http/1.1");
}

TEST_F(upstream_tls, check_summarises_the_upstream_settings_and_faults_a_mismatched_key) {
  const auto path = write_config({{}, {}, {client_mode(1, "server-ca.crt", R"(server_name = "backend.example")")}});
  auto ok = run_command({mtlsd_binary, "check", "--config", path.string()}, 10s);
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("upstream tls   min_tls_version 1.2, server_name backend.example, verify_hostname true"),
            std::string::npos)
      << ok.out;
  EXPECT_NE(ok.out.find("client cert  CN=mtlsd-upstream"), std::string::npos) << ok.out;

  service_spec wrong = client_mode(1);
  wrong.lines = {"upstream = { cert = " + toml_string(upstream_client_.cert_file.string()) +
                 ", key = " + toml_string(pki().server_key_file().string()) + " }"};
  const auto bad = write_config({{}, {}, {wrong}}, "bad.toml");
  auto refused = run_command({mtlsd_binary, "check", "--config", bad.string()}, 10s);
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("service[svc].upstream.key: private key"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("does not match the certificate"), std::string::npos) << refused.err;
}

TEST_F(upstream_tls, one_certificate_is_never_both_the_server_and_the_client_identity) {
  // Gateway mode with the listener's own certificate presented to the backend.
  service_spec reused = service("tls://127.0.0.1:1");
  reused.lines = {"upstream = { cert = " + toml_string(pki().server_cert_file().string()) +
                  ", key = " + toml_string(pki().server_key_file().string()) + " }"};
  const auto path = write_config({{}, {}, {reused}});
  auto refused = run_command({mtlsd_binary, "check", "--config", path.string()}, 10s);
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("service[svc].upstream.cert: \"CN=localhost\" is also this service's server "
                             "certificate; give [service.upstream] a client certificate of its own"),
            std::string::npos)
      << refused.err;

  // A certificate made for servers only (EKU serverAuth) would be refused by the backend.
  cert_spec server_only;
  server_only.cn = {"server-only"};
  server_only.eku = eku_kind::server_auth;
  const auto wrong_eku = pki().write_client("server-only", issue(server_only, pki().client_ca));
  service_spec s = client_mode(1);
  s.lines = {"upstream = { cert = " + toml_string(wrong_eku.cert_file.string()) +
             ", key = " + toml_string(wrong_eku.key_file.string()) + " }"};
  const auto eku_path = write_config({{}, {}, {s}}, "eku.toml");
  auto eku = run_command({mtlsd_binary, "check", "--config", eku_path.string()}, 10s);
  EXPECT_EQ(eku.status, 1);
  EXPECT_NE(eku.err.find("service[svc].upstream.cert: \"CN=server-only\" has an extendedKeyUsage without "
                         "clientAuth"),
            std::string::npos)
      << eku.err;
}

TEST_F(upstream_tls, a_backend_that_never_answers_the_handshake_times_out_within_connect_timeout) {
  // Takes the ClientHello and says nothing: a plain port, or a hung backend.
  sink_options quiet;
  quiet.fin_after_send = false;
  loopback_server silent(sink_handler(quiet));
  service_spec s = client_mode(silent.port());
  s.lines.push_back(R"(connect_timeout = "300ms")");
  start({{}, {}, {s}});
  EXPECT_EQ(plain_round_trip("x\n"), "");
  const auto failed = daemon().wait_event("upstream_handshake_failed", {{"reason", "timeout"}});
  EXPECT_NE(failed.get("detail").find("within connect_timeout (300ms)"), std::string::npos) << failed.get("detail");
  const auto access = daemon().wait_event("access", {{"close", "backend_handshake_failed"}, {"reason", "timeout"}});
  EXPECT_GE(std::stoi(access.get("duration_ms")), 300);
}

TEST_F(upstream_tls, openssl_s_server_requiring_a_client_certificate_accepts_ours) {
  if (!have_program("openssl")) GTEST_SKIP() << "openssl not in PATH";
  const auto backend_cert = dir_ / "backend.crt";
  const auto backend_key = dir_ / "backend.key";
  write_file(backend_cert, backend_cert_.cert_pem());
  write_file(backend_key, backend_cert_.key_pem());
  // -rev answers each line reversed; -Verify 1 requires a client certificate.
  process server({"openssl", "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-rev", "-Verify", "1",
                  "-CAfile", pki().client_ca_file().string(), "-cert", backend_cert.string(), "-key",
                  backend_key.string()},
                 in_path());
  const std::string line = server.wait_for_line(rx("^ACCEPT "), 10s);
  const auto port_text = line.substr(line.rfind(':') + 1);
  start({{}, {}, {client_mode(static_cast<std::uint16_t>(std::stoi(port_text)))}});
  EXPECT_EQ(plain_round_trip("upstream\n"), "maertspu\n");
  server.wait_for_line("Peer certificate: CN = mtlsd-upstream", 10s);
}

TEST_F(upstream_tls, accept_alpn_follows_the_service_sni_selects_and_no_overlap_is_not_an_error) {
  loopback_server echo(echo_handler());
  const std::string shared = "tls://127.0.0.1:" + std::to_string(closed_port());
  service_spec first = service(echo.connect_url());
  first.name = "plain";
  first.accept = shared;
  service_spec second = service(echo.connect_url());
  second.name = "h2";
  second.accept = shared;
  second.lines = {R"(server_names = ["localhost"])", R"(alpn = ["h2", "http/1.1"])"};
  start({{}, {}, {first, second}});
  const issued leaf = pki().client();

  auto attempt = [&](const std::string& sni, std::vector<std::string> offered) {
    auto options = client_options(client_identity::of(leaf));
    options.sni = sni;
    options.alpn = std::move(offered);
    tls_client client(options);
    const auto hs = client.connect(loopback, port("plain"));
    EXPECT_TRUE(hs.ok) << sni << ": " << hs.error;
    EXPECT_TRUE(client.probe().admitted) << sni;
  };
  // Our order wins over the client's.
  attempt("localhost", {"http/1.1", "h2"});
  EXPECT_EQ(daemon().wait_event("access", {{"svc", "h2"}}).get("alpn"), "h2");
  attempt("localhost", {"spdy/3"});
  attempt("", {"h2"});
  const auto h2_lines = daemon().wait_events("access", {{"svc", "h2"}}, 2);
  EXPECT_FALSE(h2_lines[1].has("alpn"));
  EXPECT_FALSE(daemon().wait_event("access", {{"svc", "plain"}}).has("alpn"));
}

}  // namespace
}  // namespace mtlsd::test
