// SNI routing: several services on one listening socket, told apart by the
// server name the client sends. Each name must reach its own backend with its
// own certificate, trust store, verify mode and CertificateRequest, a name
// nobody serves must fail with unrecognized_name when there is no default,
// and a session issued under one service must never resume into another.

#include <set>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

using namespace std::chrono_literals;

class sni_routing : public mtlsd_test {
 protected:
  void SetUp() override {
    shared_accept_ = "tls://127.0.0.1:" + std::to_string(closed_port());
    ca_a_ = make_self_signed(ca_spec("Partner A CA"));
    ca_b_ = make_self_signed(ca_spec("Partner B CA"));
    write_file(pki().dir() / "ca-a.crt", ca_a_.cert_pem());
    write_file(pki().dir() / "ca-b.crt", ca_b_.cert_pem());
    alpha_cert_ = write_server("alpha", {"alpha.example"});
    partner_cert_ = write_server("partner", {"*.partner.example"});
    client_a_ = pki().write_client("client-a", issue(client_spec("client-a"), ca_a_));
    client_b_ = pki().write_client("client-b", issue(client_spec("client-b"), ca_b_));
  }

  static cert_spec ca_spec(const std::string& cn) {
    cert_spec s;
    s.cn = {cn};
    s.is_ca = true;
    s.not_after = 24h;
    return s;
  }
  static cert_spec client_spec(const std::string& cn) {
    cert_spec s;
    s.cn = {cn};
    return s;
  }

  // A server certificate from the test server CA, as <name>.crt/.key; returns its SHA-256.
  std::string write_server(const std::string& name, std::vector<std::string> dns) {
    cert_spec s;
    s.cn = {dns.front()};
    s.dns = std::move(dns);
    s.eku = eku_kind::server_auth;
    issued cert = issue(s, pki().server_ca);
    write_file(pki().dir() / (name + ".crt"), cert.cert_pem());
    write_file(pki().dir() / (name + ".key"), cert.key_pem());
    return cert.sha256_hex();
  }

  service_spec named(const std::string& name, const loopback_server& backend, const std::string& verify,
                     const std::string& server_names, const std::string& truststore, const std::string& cert) {
    service_spec s = service(backend.connect_url(), verify);
    s.name = name;
    s.accept = shared_accept_;
    s.truststore = truststore;
    s.cert = cert + ".crt";
    s.key = cert + ".key";
    if (!server_names.empty()) s.lines.push_back("server_names = " + server_names);
    return s;
  }

  struct outcome {
    probe_result probe;
    std::string server_cert;  // SHA-256 of what the server presented
  };
  outcome attempt(const std::string& sni, std::optional<client_identity> identity, int max_version = 0) {
    auto options = client_options(std::move(identity));
    options.sni = sni;
    options.verify_host = "";  // the certificate is compared by fingerprint below
    options.max_version = max_version;
    tls_client client(options);
    outcome o;
    auto hs = client.connect(loopback, port("fallback"));
    o.server_cert = client.peer_certificate_sha256();
    if (!hs.ok) {
      o.probe = probe_result{false, hs.alert_received, hs.error, {}};
      return o;
    }
    o.probe = client.probe();
    return o;
  }

  std::string shared_accept_;
  issued ca_a_, ca_b_;
  std::string alpha_cert_, partner_cert_;
  client_identity client_a_, client_b_;
  loopback_server backend_a_{echo_handler()}, backend_b_{echo_handler()}, backend_default_{echo_handler()};
};

TEST_F(sni_routing, each_server_name_reaches_its_own_service_with_its_own_clients) {
  config_spec config;
  config.services.push_back(named("alpha", backend_a_, "require", R"(["alpha.example"])", "ca-a.crt", "alpha"));
  config.services.push_back(named("partners", backend_b_, "want", R"(["*.partner.example"])", "ca-b.crt", "partner"));
  config.services.push_back(named("fallback", backend_default_, "none", "", "", "server"));
  start(config);
  ASSERT_EQ(port("alpha"), port("fallback"));
  ASSERT_EQ(port("partners"), port("fallback"));
  const std::string default_cert = pki().server.sha256_hex();

  auto a = attempt("alpha.example", client_a_);
  EXPECT_TRUE(a.probe.admitted) << a.probe.error;
  EXPECT_EQ(a.server_cert, alpha_cert_);
  EXPECT_EQ(backend_a_.accepted(), 1u);
  daemon().wait_event("access", {{"svc", "alpha"}, {"sni", "alpha.example"}, {"verify", "ok"},
                                 {"close", "client_closed"}});

  // Partner B's certificate means nothing to alpha's trust store.
  auto refused = attempt("alpha.example", client_b_);
  EXPECT_FALSE(refused.probe.admitted);
  EXPECT_EQ(refused.probe.alert_received, "unknown_ca");
  daemon().wait_event("handshake_failed", {{"svc", "alpha"}, {"reason", "unknown_ca"}});

  auto b = attempt("api.PARTNER.example", client_b_);
  EXPECT_TRUE(b.probe.admitted) << b.probe.error;
  EXPECT_EQ(b.server_cert, partner_cert_);
  auto anonymous = attempt("other.partner.example", std::nullopt);
  EXPECT_TRUE(anonymous.probe.admitted) << anonymous.probe.error;
  EXPECT_EQ(backend_b_.accepted(), 2u);
  daemon().wait_event("access", {{"svc", "partners"}, {"verify", "anonymous"}, {"sni", "other.partner.example"}});
  auto wrong_ca = attempt("x.partner.example", client_a_);
  EXPECT_FALSE(wrong_ca.probe.admitted);
  daemon().wait_event("handshake_failed", {{"svc", "partners"}, {"reason", "unknown_ca"}});

  // Without SNI, or with a name nobody lists, the default answers — it asks for no certificate.
  for (const std::string sni : {"", "unknown.example", "a.b.partner.example"}) {
    auto d = attempt(sni, std::nullopt);
    EXPECT_TRUE(d.probe.admitted) << sni << ": " << d.probe.error;
    EXPECT_EQ(d.server_cert, default_cert) << sni;
  }
  EXPECT_EQ(backend_default_.accepted(), 3u);
  EXPECT_EQ(backend_a_.accepted(), 1u);
  EXPECT_EQ(backend_b_.accepted(), 2u);
  std::set<std::string> logged;  // "(none)": no sni field, as for a client that sent none
  for (const auto& line : daemon().wait_events("access", {{"svc", "fallback"}, {"verify", "none"}}, 3))
    logged.insert(line.has("sni") ? line.get("sni") : "(none)");
  EXPECT_EQ(logged, (std::set<std::string>{"(none)", "unknown.example", "a.b.partner.example"}));
}

TEST_F(sni_routing, the_certificate_request_lists_the_selected_services_cas) {
  if (!have_program("openssl")) GTEST_SKIP() << "openssl is not installed";
  config_spec config;
  config.services.push_back(named("alpha", backend_a_, "require", R"(["alpha.example"])", "ca-a.crt", "alpha"));
  config.services.push_back(named("fallback", backend_b_, "require", "", "ca-b.crt", "server"));
  start(config);
  const auto names_requested = [&](const std::string& sni) {
    std::vector<std::string> args{"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port("alpha"))};
    if (sni.empty()) {
      args.push_back("-noservername");
    } else {
      args.insert(args.end(), {"-servername", sni});
    }
    const auto r = run_command(args, 20s, {}, in_path());
    const auto from = r.out.find("Acceptable client certificate CA names");
    return from == std::string::npos ? std::string("(none)") : r.out.substr(from, r.out.find("---", from) - from);
  };
  const std::string alpha = names_requested("alpha.example");
  EXPECT_NE(alpha.find("CN = Partner A CA"), std::string::npos) << alpha;
  EXPECT_EQ(alpha.find("Partner B CA"), std::string::npos) << alpha;
  const std::string fallback = names_requested("");
  EXPECT_NE(fallback.find("CN = Partner B CA"), std::string::npos) << fallback;
  EXPECT_EQ(fallback.find("Partner A CA"), std::string::npos) << fallback;
}

TEST_F(sni_routing, without_a_default_an_unknown_name_fails_with_unrecognized_name) {
  config_spec config;
  config.services.push_back(named("alpha", backend_a_, "require", R"(["alpha.example"])", "ca-a.crt", "alpha"));
  config.services.push_back(named("fallback", backend_b_, "require", R"(["*.partner.example"])", "ca-b.crt", "partner"));
  start(config);

  for (const std::string sni : {"nobody.example", ""}) {
    auto r = attempt(sni, client_a_);
    EXPECT_FALSE(r.probe.admitted) << sni;
    EXPECT_EQ(r.probe.alert_received, "unrecognized_name") << sni << ": " << r.probe.error;
  }
  // Two workers may log the two refusals in either order.
  std::set<std::string> details;
  for (const auto& line : daemon().wait_events("handshake_failed", {{"reason", "unrecognized_name"}}, 2))
    details.insert(line.get("detail"));
  EXPECT_EQ(details, (std::set<std::string>{
                         "client asked for server name \"nobody.example\"; this address serves alpha.example, "
                         "*.partner.example and has no default service",
                         "client sent no server name (SNI); this address serves alpha.example, *.partner.example and "
                         "has no default service"}));
  daemon().wait_event("access", {{"close", "handshake_failed"}, {"reason", "unrecognized_name"}});
  // The daemon keeps serving the names it knows.
  EXPECT_TRUE(attempt("alpha.example", client_a_).probe.admitted);
}

TEST_F(sni_routing, each_service_keeps_its_own_connection_limit) {
  config_spec config;
  config.services.push_back(named("alpha", backend_a_, "require", R"(["alpha.example"])", "ca-a.crt", "alpha"));
  config.services.back().lines.push_back("max_connections = 1");
  config.services.push_back(named("fallback", backend_default_, "none", "", "", "server"));
  start(config);

  auto options = client_options(client_a_);
  options.sni = "alpha.example";
  options.verify_host = "";
  tls_client holder(options);
  ASSERT_TRUE(holder.connect(loopback, port("alpha")).ok);
  ASSERT_TRUE(holder.probe().admitted);

  // alpha is full; the service next to it on the same socket is not.
  auto over = attempt("alpha.example", client_a_);
  EXPECT_FALSE(over.probe.admitted);
  const auto refused = daemon().wait_event("connection_refused", {{"svc", "alpha"}, {"limit", "service"}});
  EXPECT_EQ(refused.get("max"), "1");
  daemon().wait_event("access", {{"svc", "alpha"}, {"close", "max_connections"}, {"sni", "alpha.example"}});
  EXPECT_TRUE(attempt("", std::nullopt).probe.admitted);
  EXPECT_EQ(backend_a_.accepted(), 1u);

  // The slot comes back when the holder leaves.
  holder.close();
  daemon().wait_event("access", {{"svc", "alpha"}, {"close", "client_closed"}});
  EXPECT_TRUE(attempt("alpha.example", client_a_).probe.admitted);
  EXPECT_EQ(backend_a_.accepted(), 2u);
}

TEST_F(sni_routing, the_minimum_tls_version_follows_the_selected_service) {
  config_spec config;
  config.services.push_back(named("alpha", backend_a_, "require", R"(["alpha.example"])", "ca-a.crt", "alpha"));
  config.services.back().lines.push_back(R"(min_tls_version = "1.3")");
  config.services.push_back(named("fallback", backend_default_, "none", "", "", "server"));
  start(config);

  auto old_client = attempt("alpha.example", client_a_, TLS1_2_VERSION);
  EXPECT_FALSE(old_client.probe.admitted);
  EXPECT_EQ(old_client.probe.alert_received, "protocol_version") << old_client.probe.error;
  daemon().wait_event("handshake_failed", {{"svc", "alpha"}, {"reason", "protocol_version"}});
  EXPECT_TRUE(attempt("alpha.example", client_a_).probe.admitted);
  // The default service on the same socket still speaks TLS 1.2.
  EXPECT_TRUE(attempt("", std::nullopt, TLS1_2_VERSION).probe.admitted);
  EXPECT_EQ(backend_a_.accepted(), 1u);
  EXPECT_EQ(backend_default_.accepted(), 1u);
}

class sni_resumption : public sni_routing, public ::testing::WithParamInterface<int> {};

TEST_P(sni_resumption, a_session_never_resumes_into_another_service) {
  const int version = GetParam();
  config_spec config;
  // Both services trust partner A's CA and require a certificate; only the
  // names differ. A session from one must still not open the other.
  config.services.push_back(named("alpha", backend_a_, "require", R"(["alpha.example"])", "ca-a.crt", "alpha"));
  config.services.push_back(named("fallback", backend_b_, "require", R"(["*.partner.example"])", "ca-a.crt", "partner"));
  start(config);

  auto options = client_options(client_a_);
  options.sni = "alpha.example";
  options.verify_host = "";
  options.max_version = version;
  tls_client first(options);
  ASSERT_TRUE(first.connect(loopback, port("alpha")).ok);
  ASSERT_TRUE(first.probe().admitted);
  auto session = first.session();
  ASSERT_TRUE(session) << "no resumable session";

  // The same service resumes it: resumption works, so a refusal below means something.
  tls_client again(options);
  again.offer_session(session);
  ASSERT_TRUE(again.connect(loopback, port("alpha")).ok);
  EXPECT_TRUE(again.probe().admitted);
  EXPECT_TRUE(again.session_reused());

  // Offered to the other service, without a certificate: a resumption would
  // admit the client on alpha's verdict; a full handshake demands a certificate.
  auto other = options;
  other.sni = "api.partner.example";
  other.identity.reset();
  tls_client elsewhere(other);
  elsewhere.offer_session(session);
  auto hs = elsewhere.connect(loopback, port("alpha"));
  EXPECT_FALSE(elsewhere.session_reused());
  if (hs.ok) {
    EXPECT_FALSE(elsewhere.probe().admitted);
  }
  daemon().wait_event("handshake_failed", {{"svc", "fallback"}, {"reason", "no_certificate"}});
  EXPECT_EQ(backend_b_.accepted(), 0u);
}

INSTANTIATE_TEST_SUITE_P(versions, sni_resumption, ::testing::Values(TLS1_3_VERSION, TLS1_2_VERSION),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return p.param == TLS1_3_VERSION ? "tls13" : "tls12";
                         });

TEST_F(sni_routing, services_can_join_and_leave_a_shared_address_on_reload) {
  config_spec config;
  config.services.push_back(named("fallback", backend_default_, "none", "", "", "server"));
  const auto path = write_config(config);
  daemon_ = std::make_unique<mtlsd_daemon>(mtlsd_binary, path);
  EXPECT_EQ(attempt("alpha.example", std::nullopt).server_cert, pki().server.sha256_hex());

  config.services.push_back(named("alpha", backend_a_, "require", R"(["alpha.example"])", "ca-a.crt", "alpha"));
  write_config(config);
  ::kill(daemon().proc().pid(), SIGHUP);
  daemon().wait_event("reloaded");
  auto a = attempt("alpha.example", client_a_);
  EXPECT_TRUE(a.probe.admitted) << a.probe.error;
  EXPECT_EQ(a.server_cert, alpha_cert_);
  EXPECT_EQ(backend_a_.accepted(), 1u);
  // One socket: nothing was bound or closed for it.
  EXPECT_TRUE(daemon().events("listener_closed").empty());
  EXPECT_EQ(daemon().events("listening").size(), 1u);

  // And leaving it: the name is no longer served, the default answers again.
  config.services.pop_back();
  write_config(config);
  ::kill(daemon().proc().pid(), SIGHUP);
  daemon().wait_events("reloaded", {}, 2);
  EXPECT_EQ(attempt("alpha.example", std::nullopt).server_cert, pki().server.sha256_hex());
  EXPECT_TRUE(daemon().events("listener_closed").empty());
}

}  // namespace
}  // namespace mtlsd::test
