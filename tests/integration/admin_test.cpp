// The admin endpoint as operators and monitoring use it: health and readiness
// for orchestrators, /metrics for Prometheus (checked with promtool, counted
// against known traffic), /status for people, and the endpoint behind mTLS.
// HTTP goes through curl, JSON through python3: independent clients.

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <ctime>
#include <functional>

#include "admin_client.hpp"
#include "integration.hpp"

namespace mtlsd::test {
namespace {

using clock_type = std::chrono::steady_clock;
using labels = std::map<std::string, std::string>;

std::int64_t not_after_unix(const issued& certificate) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate.cert.get()), &tm) != 1)
    throw harness_error("cannot read notAfter");
  return static_cast<std::int64_t>(timegm(&tm));
}

class admin : public mtlsd_test {
 protected:
  // `spec` plus an [admin] table listening on an ephemeral loopback port;
  // `admin_lines` are further raw TOML lines of that table.
  std::filesystem::path write_admin_config(const config_spec& spec, const std::vector<std::string>& admin_lines = {}) {
    pki();
    std::string text = render_config(spec) + "[admin]\nlisten = \"127.0.0.1:0\"\n";
    for (const auto& l : admin_lines) text += l + "\n";
    const auto path = dir_ / "mtlsd.toml";
    write_file(path, text);
    return path;
  }

  mtlsd_daemon& start_with_admin(const config_spec& spec, const std::vector<std::string>& admin_lines = {}) {
    daemon_ = std::make_unique<mtlsd_daemon>(mtlsd_binary, write_admin_config(spec, admin_lines));
    // Logged before `ready`, so it is already there.
    const auto listening = daemon_->wait_event("admin_listening", {}, 1s);
    admin_address_ = listening.get("addr");
    admin_tls_ = listening.get("tls") == "true";
    return *daemon_;
  }

  http_reply get(const std::string& path, http_options options = {}) {
    return http_request(admin_address_, path, options);
  }

  metrics_text scrape() {
    const auto reply = get("/metrics");
    if (reply.status != 200) throw harness_error("GET /metrics: " + reply.describe());
    return metrics_text::parse(reply.body);
  }

  // Counters are bumped by the workers as connections end, which can be just
  // after the client saw the end: scrape until `reached`, within `timeout`.
  // Each scrape runs curl, which paces the loop.
  metrics_text scrape_until(const std::function<bool(const metrics_text&)>& reached,
                            std::chrono::milliseconds timeout = 10s) {
    const auto deadline = clock_type::now() + timeout;
    for (;;) {
      auto m = scrape();
      if (reached(m) || clock_type::now() >= deadline) return m;
    }
  }

  // Round trip of `size` bytes through the echo backend, then a clean close.
  void echo_round_trip(const issued& leaf, std::size_t size, std::uint64_t seed, const std::string& svc = "svc") {
    tls_client client(client_options(client_identity::of(leaf)));
    const auto hs = client.connect(loopback, port(svc));
    ASSERT_TRUE(hs.ok) << hs.error;
    const std::string payload = payload_source::make(size, seed);
    ASSERT_TRUE(client.write_all(payload).ok);
    const auto back = client.read_exact(size);
    ASSERT_EQ(back.data, payload) << back.error;
    ASSERT_TRUE(client.shutdown());
    EXPECT_EQ(client.read_until_eof().end, read_end::close_notify);
  }

  std::string admin_address_;
  bool admin_tls_ = false;
};

TEST_F(admin, healthz_and_readyz) {
  loopback_server backend(echo_handler(), 60s);
  config_spec config;
  config.server_lines = {R"(drain_timeout = "30s")"};
  config.services.push_back(service(backend.connect_url()));
  auto& d = start_with_admin(config);
  EXPECT_FALSE(admin_tls_);

  const auto health = get("/healthz");
  EXPECT_EQ(health.status, 200) << health.describe();
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_EQ(health.header("Content-Type").rfind("text/plain", 0), 0u) << health.headers;
  const auto ready = get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.describe();

  // A live connection keeps the drain (and so the process) going.
  auto leaf = pki().client();
  tls_client client(client_options(client_identity::of(leaf)));
  ASSERT_TRUE(client.connect(loopback, port()).ok);
  ASSERT_TRUE(client.probe().admitted);

  d.proc().send_signal(SIGTERM);
  EXPECT_EQ(d.wait_event("draining").get("connections"), "1");

  // A load balancer must take us out of rotation, but nothing must restart us.
  const auto draining = get("/readyz");
  EXPECT_EQ(draining.status, 503) << draining.describe();
  EXPECT_NE(draining.body.find("draining"), std::string::npos) << draining.body;
  const auto still_alive = get("/healthz");
  EXPECT_EQ(still_alive.status, 200) << still_alive.describe();
  EXPECT_TRUE(d.proc().running()) << "exited with a connection still open";

  // The live connection still works, and closing it ends the drain.
  EXPECT_TRUE(client.probe("after SIGTERM\n").admitted);
  ASSERT_TRUE(client.shutdown());
  EXPECT_EQ(client.read_until_eof().end, read_end::close_notify);
  EXPECT_EQ(d.proc().wait_exit_and_output(5s), 0);
  EXPECT_FALSE(d.events("stopped").empty());
}

TEST_F(admin, metrics_count_known_traffic) {
  loopback_server backend(echo_handler(), 60s);
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto limited = service(backend.connect_url(), "require", {"max_connections = 1"});
  limited.name = "limited";
  config.services.push_back(limited);
  auto& d = start_with_admin(config);

  // Before any traffic every series exists at zero (rate() needs a start).
  const auto before = scrape();
  EXPECT_EQ(before.integer("mtlsd_handshakes_total", {{"service", "svc"}, {"result", "success"}}), 0);
  EXPECT_EQ(before.integer("mtlsd_handshakes_total",
                           {{"service", "svc"}, {"result", "failure"}, {"reason", "unknown_ca"}}),
            0);

  // 3 admitted clients, 6000 bytes each way in total.
  const auto good = pki().client();
  echo_round_trip(good, 1000, 1);
  echo_round_trip(good, 2000, 2);
  echo_round_trip(good, 3000, 3);
  constexpr std::int64_t echoed = 1000 + 2000 + 3000;

  // 4 refused: twice no certificate, an unknown CA, an expired certificate.
  EXPECT_FALSE(connect_and_probe(std::nullopt).admitted);
  EXPECT_FALSE(connect_and_probe(std::nullopt).admitted);
  cert_spec other_ca_spec;
  other_ca_spec.is_ca = true;
  other_ca_spec.cn = {"a CA mtlsd does not trust"};
  const auto other_ca = make_self_signed(other_ca_spec);
  cert_spec stranger_spec;
  stranger_spec.cn = {"stranger"};
  const auto stranger = issue(stranger_spec, other_ca);
  EXPECT_FALSE(connect_and_probe(client_identity::of(stranger)).admitted);
  cert_spec expired_spec;
  expired_spec.cn = {"expired"};
  expired_spec.not_before = -std::chrono::hours(48);
  expired_spec.not_after = -std::chrono::hours(24);
  EXPECT_FALSE(connect_and_probe(client_identity::of(pki().client(expired_spec))).admitted);

  // max_connections = 1: the second concurrent connection is refused.
  tls_client holder(client_options(client_identity::of(good)));
  ASSERT_TRUE(holder.connect(loopback, port("limited")).ok);
  ASSERT_TRUE(holder.probe().admitted);
  EXPECT_FALSE(connect_and_probe(client_identity::of(good), "limited").admitted);
  d.wait_event("connection_refused", {{"svc", "limited"}});

  const labels svc = {{"service", "svc"}};
  const auto failures = [](const std::string& reason) {
    return labels{{"service", "svc"}, {"result", "failure"}, {"reason", reason}};
  };
  const auto m = scrape_until([&](const metrics_text& s) {
    return s.integer("mtlsd_handshakes_total", {{"service", "svc"}, {"result", "success"}}) >= 3 &&
           s.integer("mtlsd_connections_rejected_total", {{"service", "svc"}, {"reason", "handshake"}}) >= 4 &&
           s.integer("mtlsd_bytes_total", {{"service", "svc"}, {"direction", "backend_to_client"}}) >= echoed &&
           s.integer("mtlsd_connections_active", svc) == 0 &&
           s.integer("mtlsd_connections_rejected_total", {{"service", "limited"}, {"reason", "limit"}}) >= 1;
  });

  EXPECT_EQ(m.integer("mtlsd_handshakes_total", {{"service", "svc"}, {"result", "success"}}), 3) << m.text();
  EXPECT_EQ(m.integer("mtlsd_handshakes_total", failures("no_certificate")), 2);
  EXPECT_EQ(m.integer("mtlsd_handshakes_total", failures("unknown_ca")), 1);
  EXPECT_EQ(m.integer("mtlsd_handshakes_total", failures("expired")), 1);
  for (const auto* other : {"not_yet_valid", "bad_signature", "depth_exceeded", "bad_eku", "not_whitelisted",
                            "revoked", "revocation_unknown", "crl_stale", "weak_key", "name_constraints",
                            "invalid_svid", "unrecognized_name", "hostname_mismatch", "protocol_version", "timeout", "other"})
    EXPECT_EQ(m.integer("mtlsd_handshakes_total", failures(other)), 0) << other;
  EXPECT_EQ(m.integer("mtlsd_connections_accepted_total", svc), 7);
  EXPECT_EQ(m.integer("mtlsd_connections_rejected_total", {{"service", "svc"}, {"reason", "handshake"}}), 4);
  EXPECT_EQ(m.integer("mtlsd_connections_rejected_total", {{"service", "svc"}, {"reason", "limit"}}), 0);
  EXPECT_EQ(m.integer("mtlsd_connections_active", svc), 0);
  EXPECT_EQ(m.integer("mtlsd_silent_closes_total", svc), 0);
  EXPECT_EQ(m.integer("mtlsd_bytes_total", {{"service", "svc"}, {"direction", "client_to_backend"}}), echoed);
  EXPECT_EQ(m.integer("mtlsd_bytes_total", {{"service", "svc"}, {"direction", "backend_to_client"}}), echoed);
  EXPECT_EQ(m.integer("mtlsd_backend_connects_total", {{"service", "svc"}, {"result", "success"}}), 3);
  EXPECT_EQ(m.integer("mtlsd_backend_connects_total", {{"service", "svc"}, {"result", "failure"}}), 0);
  EXPECT_EQ(m.integer("mtlsd_handshake_duration_seconds_count", svc), 7);
  EXPECT_EQ(m.integer("mtlsd_handshake_duration_seconds_bucket", {{"service", "svc"}, {"le", "+Inf"}}), 7);
  EXPECT_EQ(m.integer("mtlsd_backend_connect_duration_seconds_count", svc), 3);

  EXPECT_EQ(m.integer("mtlsd_connections_accepted_total", {{"service", "limited"}}), 2);
  EXPECT_EQ(m.integer("mtlsd_connections_rejected_total", {{"service", "limited"}, {"reason", "limit"}}), 1);
  EXPECT_EQ(m.integer("mtlsd_connections_rejected_total", {{"service", "limited"}, {"reason", "handshake"}}), 0);
  EXPECT_EQ(m.integer("mtlsd_handshakes_total", {{"service", "limited"}, {"result", "success"}}), 1);
  EXPECT_EQ(m.integer("mtlsd_connections_active", {{"service", "limited"}}), 1);

  EXPECT_EQ(m.integer("mtlsd_config_generation"), 1);
  EXPECT_EQ(m.integer("mtlsd_ready"), 1);
  EXPECT_EQ(m.integer("mtlsd_draining"), 0);

  // Expiry of what the service loaded, to the second, from the test PKI.
  for (const auto& [role, cert] : {std::pair<std::string, const issued*>{"server", &pki().server},
                                   std::pair<std::string, const issued*>{"truststore", &pki().client_ca}}) {
    std::vector<metric_sample> found;
    for (const auto& s : m.samples("mtlsd_certificate_not_after_seconds"))
      if (s.labels.at("service") == "svc" && s.labels.at("role") == role) found.push_back(s);
    ASSERT_EQ(found.size(), 1u) << role << "\n" << m.text();
    EXPECT_EQ(found[0].value, std::to_string(not_after_unix(*cert))) << role;
    EXPECT_NE(found[0].labels.at("subject").find(role == "server" ? "CN=localhost" : "CN=mtlsd test client CA"),
              std::string::npos)
        << found[0].labels.at("subject");
  }

  // build_info names the same version and OpenSSL that `mtlsd version` prints.
  const auto info = m.samples("mtlsd_build_info");
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].value, "1");
  ASSERT_FALSE(info[0].labels.at("version").empty());
  const auto version = run_command({mtlsd_binary, "version"}, 10s);
  EXPECT_EQ(version.out, "mtlsd " + info[0].labels.at("version") + " (" + info[0].labels.at("openssl") + ")\n");
}

TEST_F(admin, metrics_pass_promtool) {
  if (!have_program("promtool")) GTEST_SKIP() << "promtool (Debian package prometheus) is not installed";
  loopback_server backend(echo_handler(), 60s);
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto plain = service(backend.connect_url());
  plain.name = "plain-tcp";
  plain.accept = "tcp://127.0.0.1:0";
  plain.tls_files = false;
  config.services.push_back(plain);
  // A subject with characters that need escaping in a label value.
  cert_spec odd;
  odd.cn = {"odd \"quoted\" \\ name"};
  odd.dns = {"localhost"};
  odd.ip = {"127.0.0.1"};
  odd.eku = eku_kind::server_auth;
  const auto odd_cert = issue(odd, pki().server_ca);
  write_file(dir_ / "odd.crt", odd_cert.cert_pem());
  write_file(dir_ / "odd.key", odd_cert.key_pem());
  auto third = service(backend.connect_url(), "want");
  third.name = "odd.name_3";
  third.cert = "odd.crt";
  third.key = "odd.key";
  config.services.push_back(third);
  start_with_admin(config);

  const auto leaf = pki().client();
  EXPECT_TRUE(connect_and_probe(client_identity::of(leaf)).admitted);
  EXPECT_FALSE(connect_and_probe(std::nullopt).admitted);
  {
    std::string error;
    const int fd = tcp_connect(loopback, port("plain-tcp"), 5s, &error);
    ASSERT_GE(fd, 0) << error;
    ::close(fd);
  }

  const auto reply = get("/metrics");
  ASSERT_EQ(reply.status, 200) << reply.describe();
  EXPECT_EQ(reply.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const auto checked = run_command({"promtool", "check", "metrics"}, 30s, reply.body, in_path());
  EXPECT_EQ(checked.status, 0) << checked.out << checked.err << "\n---- exposition ----\n" << reply.body;
  // And it is not an empty document that trivially passes.
  const auto m = metrics_text::parse(reply.body);
  EXPECT_TRUE(m.integer("mtlsd_connections_accepted_total", {{"service", "plain-tcp"}}).has_value());
  EXPECT_TRUE(m.integer("mtlsd_connections_accepted_total", {{"service", "odd.name_3"}}).has_value());
  bool odd_subject = false;
  for (const auto& s : m.samples("mtlsd_certificate_not_after_seconds"))
    odd_subject = odd_subject || s.labels.at("subject").find("quoted") != std::string::npos;
  EXPECT_TRUE(odd_subject) << reply.body;
}

TEST_F(admin, reload_metrics) {
  loopback_server backend(echo_handler(), 60s);
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto& d = start_with_admin(config);

  const auto first = scrape();
  EXPECT_EQ(first.integer("mtlsd_reloads_total", {{"result", "success"}}), 0);
  EXPECT_EQ(first.integer("mtlsd_reloads_total", {{"result", "failure"}}), 0);
  EXPECT_EQ(first.integer("mtlsd_config_generation"), 1);
  const auto started = first.number("mtlsd_reload_last_success_timestamp_seconds");
  ASSERT_TRUE(started.has_value()) << first.text();
  // Start-up counts as the first successful load.
  EXPECT_NEAR(*started, static_cast<double>(std::time(nullptr)), 60.0);

  // A valid change: a second service.
  auto second = service(backend.connect_url());
  second.name = "second";
  config.services.push_back(second);
  write_admin_config(config);
  d.proc().send_signal(SIGHUP);
  d.wait_event("reloaded");
  const auto reloaded = scrape();
  EXPECT_EQ(reloaded.integer("mtlsd_reloads_total", {{"result", "success"}}), 1);
  EXPECT_EQ(reloaded.integer("mtlsd_reloads_total", {{"result", "failure"}}), 0);
  EXPECT_EQ(reloaded.integer("mtlsd_config_generation"), 2);
  const auto reload_time = reloaded.number("mtlsd_reload_last_success_timestamp_seconds");
  ASSERT_TRUE(reload_time.has_value());
  EXPECT_GT(*reload_time, *started);
  EXPECT_TRUE(reloaded.integer("mtlsd_connections_accepted_total", {{"service", "second"}}).has_value());

  // An invalid one: nothing changes but the failure count.
  config.services[1].lines = {"no_such_key = 1"};
  write_admin_config(config);
  d.proc().send_signal(SIGHUP);
  const auto error_line = d.wait_event("reload_error");
  d.wait_event("reload_failed");
  const auto failed = scrape();
  EXPECT_EQ(failed.integer("mtlsd_reloads_total", {{"result", "success"}}), 1);
  EXPECT_EQ(failed.integer("mtlsd_reloads_total", {{"result", "failure"}}), 1);
  EXPECT_EQ(failed.integer("mtlsd_config_generation"), 2);
  EXPECT_EQ(failed.number("mtlsd_reload_last_success_timestamp_seconds"), reload_time);

  const auto status = get("/status");
  ASSERT_EQ(status.status, 200) << status.describe();
  const auto json = json_document::parse(status.body);
  EXPECT_EQ(json.string("last_reload.result"), "failure");
  EXPECT_EQ(json.string("last_reload.error"), error_line.get("error"));
  EXPECT_NE(json.string("last_reload.error").find("no_such_key"), std::string::npos)
      << json.string("last_reload.error");
  EXPECT_EQ(json.number("config_generation"), 2);

  // The previous configuration (with the service the reload added) still serves.
  const auto added = d.wait_event("listening", {{"svc", "second"}}, 1s);
  const std::string addr = added.get("addr");
  tls_client client(client_options(client_identity::of(pki().client())));
  ASSERT_TRUE(client.connect(loopback, static_cast<std::uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)))).ok);
  EXPECT_TRUE(client.probe().admitted);
}

TEST_F(admin, status_json) {
  loopback_server backend(echo_handler(), 60s);
  config_spec config;
  config.services.push_back(service(backend.connect_url(), "require", {"max_connections = 5"}));
  auto plain = service(backend.connect_url());
  plain.name = "plain";
  plain.accept = "tcp://127.0.0.1:0";
  plain.tls_files = false;
  config.services.push_back(plain);
  auto& d = start_with_admin(config);

  const auto reply = get("/status");
  ASSERT_EQ(reply.status, 200) << reply.describe();
  EXPECT_EQ(reply.header("Content-Type").rfind("application/json", 0), 0u) << reply.headers;
  const auto json = json_document::parse(reply.body);

  EXPECT_TRUE(json.boolean("ready"));
  EXPECT_FALSE(json.boolean("draining"));
  EXPECT_EQ(json.number("config_generation"), 1);
  EXPECT_EQ(json.string("config_file"), (dir_ / "mtlsd.toml").string());
  EXPECT_FALSE(json.string("version").empty());
  ASSERT_EQ(json.size("services"), 2u) << reply.body;

  EXPECT_EQ(json.string("services.0.name"), "svc");
  EXPECT_EQ(json.string("services.0.accept"), "tls://127.0.0.1:0");
  EXPECT_EQ(json.string("services.0.listening"), "127.0.0.1:" + std::to_string(d.port("svc")));
  EXPECT_EQ(json.string("services.0.connect"), backend.connect_url());
  EXPECT_TRUE(json.boolean("services.0.tls"));
  EXPECT_EQ(json.string("services.0.verify_client"), "require");
  EXPECT_EQ(json.number("services.0.max_connections"), 5);
  ASSERT_EQ(json.size("services.0.certificates"), 2u) << reply.body;
  EXPECT_EQ(json.string("services.0.certificates.0.role"), "server");
  EXPECT_NE(json.string("services.0.certificates.0.subject").find("CN=localhost"), std::string::npos);
  EXPECT_FALSE(json.string("services.0.certificates.0.not_after").empty());
  EXPECT_EQ(json.number("services.0.certificates.0.not_after_unix"),
            static_cast<double>(not_after_unix(pki().server)));
  EXPECT_FALSE(json.boolean("services.0.certificates.0.expired"));
  EXPECT_EQ(json.string("services.0.certificates.1.role"), "truststore");
  EXPECT_EQ(json.number("services.0.certificates.1.not_after_unix"),
            static_cast<double>(not_after_unix(pki().client_ca)));

  EXPECT_EQ(json.string("services.1.name"), "plain");
  EXPECT_EQ(json.string("services.1.accept"), "tcp://127.0.0.1:0");
  EXPECT_EQ(json.string("services.1.listening"), "127.0.0.1:" + std::to_string(d.port("plain")));
  EXPECT_FALSE(json.boolean("services.1.tls"));
  EXPECT_TRUE(json.is_null("services.1.max_connections"));
  EXPECT_FALSE(json.has("services.1.certificates"));

  // A connection held open shows up.
  tls_client client(client_options(client_identity::of(pki().client())));
  ASSERT_TRUE(client.connect(loopback, port()).ok);
  ASSERT_TRUE(client.probe().admitted);
  const auto busy = json_document::parse(get("/status").body);
  EXPECT_EQ(busy.number("services.0.connections_active"), 1);
  EXPECT_EQ(busy.number("connections_active"), 1);
}

TEST_F(admin, admin_over_mtls) {
  loopback_server backend(echo_handler(), 60s);
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto& d = start_with_admin(config, {R"(cert = "server.crt")", R"(key = "server.key")",
                                      R"(truststore = "client-ca.crt")"});
  EXPECT_TRUE(admin_tls_);
  const auto operator_id = pki().write_client("operator", pki().client());

  http_options with_cert;
  with_cert.tls = true;
  with_cert.ca_file = pki().server_ca_file();
  with_cert.cert_file = operator_id.cert_file;
  with_cert.key_file = operator_id.key_file;
  const auto ok = get("/healthz", with_cert);
  EXPECT_EQ(ok.status, 200) << ok.describe();
  EXPECT_EQ(ok.body, "ok\n");

  http_options no_cert = with_cert;
  no_cert.cert_file.clear();
  no_cert.key_file.clear();
  const auto refused = get("/healthz", no_cert);
  EXPECT_NE(refused.curl_exit, 0) << refused.describe();
  EXPECT_EQ(refused.status, 0) << refused.describe();
  EXPECT_EQ(d.wait_event("admin_handshake_failed").get("reason"), "no_certificate");

  cert_spec other_ca_spec;
  other_ca_spec.is_ca = true;
  other_ca_spec.cn = {"a CA mtlsd does not trust"};
  const auto other_ca = make_self_signed(other_ca_spec);
  cert_spec stranger_spec;
  stranger_spec.cn = {"stranger"};
  const auto stranger = pki().write_client("stranger", issue(stranger_spec, other_ca));
  http_options wrong_cert = with_cert;
  wrong_cert.cert_file = stranger.cert_file;
  wrong_cert.key_file = stranger.key_file;
  const auto untrusted = get("/metrics", wrong_cert);
  EXPECT_NE(untrusted.curl_exit, 0) << untrusted.describe();
  EXPECT_EQ(untrusted.status, 0) << untrusted.describe();
  EXPECT_EQ(d.wait_event("admin_handshake_failed", {{"reason", "unknown_ca"}}).get("reason"), "unknown_ca");

  // Plain HTTP to the TLS port gets no HTTP answer.
  const auto plain = get("/healthz");
  EXPECT_NE(plain.curl_exit, 0) << plain.describe();
  EXPECT_NE(plain.status, 200) << plain.describe();

  // The endpoint kept serving through all of that, /metrics included, and it
  // reports its own certificate.
  const auto again = get("/metrics", with_cert);
  ASSERT_EQ(again.status, 200) << again.describe();
  const auto m = metrics_text::parse(again.body);
  bool admin_cert = false;
  for (const auto& s : m.samples("mtlsd_certificate_not_after_seconds"))
    if (s.labels.at("service") == "admin" && s.labels.at("role") == "admin") {
      admin_cert = true;
      EXPECT_EQ(s.value, std::to_string(not_after_unix(pki().server)));
    }
  EXPECT_TRUE(admin_cert) << again.body;
}

TEST_F(admin, unknown_path_404_and_post_405) {
  loopback_server backend(echo_handler(), 60s);
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  start_with_admin(config);

  const auto missing = get("/nope");
  EXPECT_EQ(missing.status, 404) << missing.describe();
  // Paths match exactly: no prefix matching, no trailing-slash leniency.
  EXPECT_EQ(get("/healthz/").status, 404);
  EXPECT_EQ(get("/metricsx").status, 404);

  http_options post;
  post.method = "POST";
  const auto posted = get("/healthz", post);
  EXPECT_EQ(posted.status, 405) << posted.describe();
  const std::string allow = posted.header("Allow");
  EXPECT_NE(allow.find("GET"), std::string::npos) << posted.headers;
  EXPECT_NE(allow.find("HEAD"), std::string::npos) << posted.headers;
  post.method = "DELETE";
  EXPECT_EQ(get("/status", post).status, 405);

  http_options head;
  head.method = "HEAD";
  const auto headed = get("/healthz", head);
  EXPECT_EQ(headed.status, 200) << headed.describe();
  EXPECT_EQ(headed.header("Content-Length"), "3");
  // curl never reads a HEAD body, so look at the bytes: nothing after the header.
  {
    const auto colon = admin_address_.rfind(':');
    std::string error;
    const int fd = tcp_connect(admin_address_.substr(0, colon),
                               static_cast<std::uint16_t>(std::stoi(admin_address_.substr(colon + 1))), 5s, &error);
    ASSERT_GE(fd, 0) << error;
    const std::string request = "HEAD /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    const timeval bounded{5, 0};  // the endpoint closes after this response; if not, fail instead of hanging
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bounded, sizeof bounded);
    std::string response;
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;)
      response.append(buffer, static_cast<std::size_t>(n));
    ::close(fd);
    EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
    EXPECT_GE(response.size(), 4u);
    EXPECT_EQ(response.find("\r\n\r\n"), response.size() - 4) << response;
  }

  // A query string does not change the route.
  EXPECT_EQ(get("/healthz?verbose=1").status, 200);
  EXPECT_EQ(get("/healthz").status, 200);
}

}  // namespace
}  // namespace mtlsd::test
