// Revocation against the real daemon: CRLs (`crl`, `crl_stale`), the
// re-judging of live connections after a reload (`reevaluate_live`), and
// OCSP stapling (`ocsp_staple_file`). The CRLs, and the OCSP response (made
// with `openssl ocsp` from an index file, as an operator would), are all
// made at test time.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/bn.h>

#include <csignal>
#include <fstream>

#include "admin_client.hpp"
#include "integration.hpp"

namespace mtlsd::test {
namespace {

namespace fs = std::filesystem;

// As `openssl x509 -serial` prints it (uppercase hex), which is also how
// log details and OCSP index files name a serial.
std::string serial_of(const issued& cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.cert.get()), nullptr);
  char* hex = bn ? BN_bn2hex(bn) : nullptr;
  std::string text = hex ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return text;
}

// "127.0.0.1:PORT" of the client's end: how mtlsd's peer= names it.
std::string local_address(const tls_client& client) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  if (::getsockname(client.fd(), reinterpret_cast<sockaddr*>(&address), &length) != 0) return "?";
  return "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
}

// 1-based number of the first line of `file` containing `needle`; 0 if none.
int line_of(const fs::path& file, const std::string& needle) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find(needle) != std::string::npos) return n;
  return 0;
}

class revocation : public mtlsd_test {
 protected:
  void SetUp() override {
    cert_spec ca;
    ca.is_ca = true;
    ca.cn = {"mtlsd test client intermediate"};
    intermediate_ = issue(ca, pki().client_ca);
  }

  issued client_leaf(const std::string& cn, const issued* issuer = nullptr) {
    cert_spec spec;
    spec.cn = {cn};
    return issue(spec, issuer ? *issuer : pki().client_ca);
  }

  void write_crl(const std::string& name, const issued& issuer, std::vector<revoked_cert> revoked = {},
                 crl_spec spec = {}) {
    spec.revoked = std::move(revoked);
    write_file(dir_ / name, make_crl(spec, issuer).pem());
  }

  static crl_spec stale_spec() {
    crl_spec spec;
    spec.this_update = -std::chrono::hours(48);
    spec.next_update = -std::chrono::hours(2);
    return spec;
  }

  // One require-mode service in front of `backend` with these extra lines.
  config_spec one_service(const loopback_server& backend, std::vector<std::string> lines,
                          std::vector<std::string> allow = {}) {
    config_spec c;
    c.server_lines = {"workers = 1"};  // one worker: a reload's judging of all connections is one task
    c.services.push_back(service(backend.connect_url(), "require", std::move(lines)));
    c.services[0].allow = std::move(allow);
    return c;
  }

  // Starts with an [admin] endpoint, whose address is kept for scrape().
  mtlsd_daemon& start_with_admin(const config_spec& spec) {
    pki();
    const auto path = dir_ / "mtlsd.toml";
    write_file(path, render_config(spec) + "[admin]\nlisten = \"127.0.0.1:0\"\n");
    daemon_ = std::make_unique<mtlsd_daemon>(mtlsd_binary, path);
    admin_address_ = daemon_->wait_event("admin_listening", {}, 1s).get("addr");
    return *daemon_;
  }
  void rewrite_with_admin(const config_spec& spec) {
    write_file(dir_ / "mtlsd.toml", render_config(spec) + "[admin]\nlisten = \"127.0.0.1:0\"\n");
  }
  metrics_text scrape() {
    const auto reply = http_request(admin_address_, "/metrics");
    if (reply.status != 200) throw harness_error("GET /metrics: " + reply.describe());
    return metrics_text::parse(reply.body);
  }

  void reload_to(int generation) {
    daemon().proc().send_signal(SIGHUP);
    daemon().wait_event("reloaded", {{"generation", std::to_string(generation)}});
  }

  // A connected client whose first bytes came back through the proxy.
  std::unique_ptr<tls_client> live_client(const client_identity& identity) {
    auto client = std::make_unique<tls_client>(client_options(identity));
    const auto hs = client->connect(loopback, port());
    EXPECT_TRUE(hs.ok) << hs.error;
    const auto p = client->probe("hello\n");
    EXPECT_TRUE(p.admitted) << p.error << " " << p.alert_received;
    return client;
  }

  run_result check(const fs::path& config) {
    return run_command({mtlsd_binary, "check", "--config", config.string()}, 10s);
  }

  issued intermediate_;
  std::string admin_address_;
};

TEST_F(revocation, a_revoked_client_is_refused_and_an_unrevoked_one_admitted) {
  loopback_server backend(echo_handler());
  const issued revoked = client_leaf("revoked-client");
  const issued fine = client_leaf("fine-client");
  write_crl("client-ca.crl", pki().client_ca, {{&revoked, -std::chrono::hours(5), 1}});
  auto& d = start(one_service(backend, {R"(crl = "client-ca.crl")"}));

  EXPECT_TRUE(connect_and_probe(client_identity::of(fine)).admitted);
  const auto refused = connect_and_probe(client_identity::of(revoked));
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.alert_received, "certificate_revoked");
  const auto line = d.wait_event("handshake_failed", {{"reason", "revoked"}});
  const std::string detail = line.get("detail");
  EXPECT_NE(detail.find("subject=\"CN=revoked-client\""), std::string::npos) << detail;
  EXPECT_NE(detail.find("issuer=\"CN=mtlsd test client CA\""), std::string::npos) << detail;
  EXPECT_NE(detail.find("serial " + serial_of(revoked)), std::string::npos) << detail;
  EXPECT_NE(detail.find("reason keyCompromise"), std::string::npos) << detail;
  EXPECT_EQ(d.wait_event("access", {{"reason", "revoked"}}).get("close"), "handshake_failed");
}

TEST_F(revocation, a_revoked_intermediate_refuses_the_clients_it_issued) {
  loopback_server backend(echo_handler());
  const issued leaf = client_leaf("under-intermediate", &intermediate_);
  write_crl("root.crl", pki().client_ca, {{&intermediate_, -std::chrono::hours(1), 2}});
  write_crl("intermediate.crl", intermediate_);
  auto& d = start(one_service(backend, {R"(crl = ["root.crl", "intermediate.crl"])"}));
  // The intermediate's CRL cannot be checked until a client sends the intermediate.
  const auto warning = d.wait_event("config_warning");
  EXPECT_NE(warning.get("message").find("not issued by a truststore CA"), std::string::npos)
      << warning.get("message");

  EXPECT_FALSE(connect_and_probe(client_identity::of(leaf, {&intermediate_})).admitted);
  const auto line = d.wait_event("handshake_failed");
  EXPECT_EQ(line.get("reason"), "revoked");
  EXPECT_NE(line.get("detail").find("subject=\"CN=mtlsd test client intermediate\""), std::string::npos)
      << line.get("detail");
  EXPECT_NE(line.get("detail").find("depth=1"), std::string::npos) << line.get("detail");
  EXPECT_NE(line.get("detail").find("reason cACompromise"), std::string::npos) << line.get("detail");
}

TEST_F(revocation, a_ca_in_the_chain_without_a_crl_leaves_revocation_unknown) {
  loopback_server backend(echo_handler());
  const issued leaf = client_leaf("under-intermediate", &intermediate_);
  const issued direct = client_leaf("direct-client");
  write_crl("root.crl", pki().client_ca);
  auto& d = start(one_service(backend, {R"(crl = "root.crl")"}));

  // Issued by the root, whose CRL is loaded: admitted.
  EXPECT_TRUE(connect_and_probe(client_identity::of(direct)).admitted);
  // Issued by the intermediate, whose CRL is not: refused.
  EXPECT_FALSE(connect_and_probe(client_identity::of(leaf, {&intermediate_})).admitted);
  const auto line = d.wait_event("handshake_failed");
  EXPECT_EQ(line.get("reason"), "revocation_unknown");
  EXPECT_NE(line.get("detail").find("no CRL from its issuer \"CN=mtlsd test client intermediate\""),
            std::string::npos)
      << line.get("detail");
}

TEST_F(revocation, a_stale_crl_refuses_clients_in_reject_mode) {
  loopback_server backend(echo_handler());
  write_crl("client-ca.crl", pki().client_ca, {}, stale_spec());
  auto& d = start(one_service(backend, {R"(crl = "client-ca.crl")"}));
  const auto warning = d.wait_event("config_warning");
  EXPECT_NE(warning.get("message").find("CRL of \"CN=mtlsd test client CA\""), std::string::npos)
      << warning.get("message");
  EXPECT_NE(warning.get("message").find("past its nextUpdate"), std::string::npos) << warning.get("message");
  EXPECT_NE(warning.get("message").find("crl_stale = \"reject\""), std::string::npos) << warning.get("message");

  EXPECT_FALSE(connect_and_probe(client_identity::of(pki().client())).admitted);
  const auto line = d.wait_event("handshake_failed");
  EXPECT_EQ(line.get("reason"), "crl_stale");
  EXPECT_NE(line.get("detail").find("past its nextUpdate"), std::string::npos) << line.get("detail");
}

TEST_F(revocation, a_stale_crl_in_warn_mode_admits_and_warns_once_a_minute) {
  loopback_server backend(echo_handler());
  write_crl("client-ca.crl", pki().client_ca, {}, stale_spec());
  auto& d = start(one_service(backend, {R"(crl = "client-ca.crl")", R"(crl_stale = "warn")"}));
  EXPECT_NE(d.wait_event("config_warning").get("message").find("crl_stale = \"warn\""), std::string::npos);

  const issued leaf = pki().client();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(connect_and_probe(client_identity::of(leaf)).admitted) << i;
  d.wait_events("access", {{"close", "client_closed"}}, 3);
  const auto warned = d.events("crl_stale");
  ASSERT_EQ(warned.size(), 1u) << "three handshakes within a minute must log crl_stale once\n" << d.output();
  EXPECT_EQ(warned[0].level, "warn");
  EXPECT_EQ(warned[0].get("issuer"), "CN=mtlsd test client CA");
  EXPECT_EQ(warned[0].get("mode"), "warn");
  EXPECT_FALSE(warned[0].get("next_update").empty());
}

TEST_F(revocation, check_reports_a_crl_that_does_not_parse_and_one_with_a_bad_signature_at_once) {
  write_file(dir_ / "broken.crl", "-----BEGIN X509 CRL-----\nnot base64 at all\n-----END X509 CRL-----\n");
  cert_spec impostor_spec;
  impostor_spec.is_ca = true;
  impostor_spec.cn = {"impostor"};
  const issued impostor = make_self_signed(impostor_spec);
  crl_spec forged;
  forged.forged_by = &impostor;
  write_crl("forged.crl", pki().client_ca, {}, forged);
  config_spec c;
  c.services.push_back(service("tcp://127.0.0.1:9", "require", {R"(crl = ["broken.crl", "forged.crl"])"}));
  const fs::path config = write_config(c);
  const int line = line_of(config, "crl = ");
  ASSERT_GT(line, 0);

  const auto r = check(config);
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  const std::string at = config.string() + ":" + std::to_string(line) + ":";
  std::vector<std::string> lines;
  std::istringstream err(r.err);
  for (std::string l; std::getline(err, l);)
    if (l.rfind(at, 0) == 0) lines.push_back(l);
  ASSERT_EQ(lines.size(), 2u) << r.err;
  EXPECT_NE(lines[0].find("service[svc].crl: cannot load CRL file " + (dir_ / "broken.crl").string()),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("service[svc].crl: CRL of \"CN=mtlsd test client CA\""), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("signature does not verify"), std::string::npos) << lines[1];
}

TEST_F(revocation, check_lists_each_crl_with_issuer_next_update_and_revoked_count) {
  const issued revoked = client_leaf("revoked-client");
  write_crl("client-ca.crl", pki().client_ca, {{&revoked}});
  config_spec c;
  c.services.push_back(service("tcp://127.0.0.1:9", "require", {R"(crl = "client-ca.crl")"}));
  const auto r = check(write_config(c));
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("crl            1 CRL (crl_stale reject"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CN=mtlsd test client CA: next update 20"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 revoked"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("judged again after each reload"), std::string::npos) << r.out;
}

TEST_F(revocation, a_live_connection_is_closed_when_a_reload_revokes_its_client_and_another_keeps_going) {
  loopback_server backend(echo_handler(), 120s);
  const issued doomed = client_leaf("doomed-client");
  const issued kept = client_leaf("kept-client");
  write_crl("client-ca.crl", pki().client_ca);
  const config_spec config = one_service(backend, {R"(crl = "client-ca.crl")"});
  auto& d = start_with_admin(config);
  auto doomed_client = live_client(client_identity::of(doomed));
  auto kept_client = live_client(client_identity::of(kept));
  const std::string doomed_peer = local_address(*doomed_client);
  const std::string kept_peer = local_address(*kept_client);

  write_crl("client-ca.crl", pki().client_ca, {{&doomed, -std::chrono::minutes(1), 1}});
  reload_to(2);
  const auto rejected = d.wait_event("live_connection_rejected", {{"peer", doomed_peer}});
  EXPECT_EQ(rejected.level, "warn");
  EXPECT_EQ(rejected.get("svc"), "svc");
  EXPECT_EQ(rejected.get("reason"), "revoked");
  EXPECT_NE(rejected.get("detail").find("subject=\"CN=doomed-client\""), std::string::npos) << rejected.get("detail");
  EXPECT_NE(rejected.get("detail").find("serial " + serial_of(doomed)), std::string::npos) << rejected.get("detail");

  // The revoked client's connection ends cleanly, and its access line says why.
  const auto end = doomed_client->read_until_eof();
  EXPECT_EQ(end.end, read_end::close_notify) << end.error;
  const auto access = d.wait_event("access", {{"peer", doomed_peer}});
  EXPECT_EQ(access.get("conn"), rejected.get("conn"));
  EXPECT_EQ(access.get("close"), "reevaluated");
  EXPECT_EQ(access.get("reason"), "revoked");
  EXPECT_EQ(access.get("subject"), "CN=doomed-client");

  // The other client was judged in the same pass and keeps transferring.
  EXPECT_TRUE(d.events("live_connection_rejected", {{"peer", kept_peer}}).empty());
  const std::string more(256 * 1024, 'k');
  const auto echoed = kept_client->probe(more);
  EXPECT_TRUE(echoed.admitted) << echoed.error;
  EXPECT_TRUE(kept_client->shutdown());
  EXPECT_EQ(d.wait_event("access", {{"peer", kept_peer}}).get("close"), "client_closed");

  const auto metrics = scrape();
  EXPECT_EQ(metrics.integer("mtlsd_live_connections_rejected_total", {{"service", "svc"}, {"reason", "revoked"}}), 1);
  EXPECT_EQ(metrics.integer("mtlsd_live_connections_rejected_total",
                            {{"service", "svc"}, {"reason", "not_whitelisted"}}),
            0);
  const auto next_update = metrics.value("mtlsd_crl_next_update_seconds",
                                         {{"service", "svc"}, {"issuer", "CN=mtlsd test client CA"}});
  ASSERT_TRUE(next_update) << metrics.text();
  EXPECT_GT(std::stoll(*next_update), static_cast<long long>(std::time(nullptr)));

  // New connections of the revoked client are refused in the handshake.
  EXPECT_FALSE(connect_and_probe(client_identity::of(doomed)).admitted);
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "revoked");
}

TEST_F(revocation, a_live_connection_is_closed_when_a_reload_drops_it_from_the_whitelist) {
  loopback_server backend(echo_handler(), 120s);
  const issued dropped = client_leaf("partner-a");
  const issued kept = client_leaf("partner-b");
  auto& d = start(one_service(backend, {}, {R"(cn = ["partner-a", "partner-b"])"}));
  auto dropped_client = live_client(client_identity::of(dropped));
  auto kept_client = live_client(client_identity::of(kept));
  const std::string dropped_peer = local_address(*dropped_client);
  const std::string kept_peer = local_address(*kept_client);

  write_config(one_service(backend, {}, {R"(cn = ["partner-b"])"}));
  reload_to(2);
  const auto rejected = d.wait_event("live_connection_rejected", {{"peer", dropped_peer}});
  EXPECT_EQ(rejected.get("reason"), "not_whitelisted");
  EXPECT_NE(rejected.get("detail").find("no allow rule matched"), std::string::npos) << rejected.get("detail");
  EXPECT_EQ(dropped_client->read_until_eof().end, read_end::close_notify);
  const auto access = d.wait_event("access", {{"peer", dropped_peer}});
  EXPECT_EQ(access.get("close"), "reevaluated");
  EXPECT_EQ(access.get("reason"), "not_whitelisted");

  EXPECT_TRUE(d.events("live_connection_rejected", {{"peer", kept_peer}}).empty());
  EXPECT_TRUE(kept_client->probe("still here\n").admitted);
}

TEST_F(revocation, reevaluate_live_false_keeps_live_connections_under_the_rules_they_were_admitted_by) {
  loopback_server backend(echo_handler(), 120s);
  const issued client = client_leaf("partner-a");
  auto& d = start(one_service(backend, {"reevaluate_live = false"}, {R"(cn = ["partner-a"])"}));
  auto live = live_client(client_identity::of(client));

  write_config(one_service(backend, {"reevaluate_live = false"}, {R"(cn = ["partner-b"])"}));
  reload_to(2);
  EXPECT_TRUE(live->probe("after the reload\n").admitted);
  EXPECT_TRUE(d.events("live_connection_rejected").empty());
  // New connections follow the new whitelist.
  EXPECT_FALSE(connect_and_probe(client_identity::of(client)).admitted);
}

// Sessions resumed from a stateless ticket (session_ticket_key_file) carry
// only the client's leaf: the intermediates are not in the ticket. Such a
// connection must not be closed for want of them, and its leaf is still
// checked against its issuer's CRL.
TEST_F(revocation, a_connection_resumed_from_a_ticket_is_kept_without_its_intermediates_and_closed_if_revoked) {
  loopback_server backend(echo_handler(), 120s);
  write_file(dir_ / "tickets.key", random_ticket_key_hex() + "\n");
  fs::permissions(dir_ / "tickets.key", fs::perms::owner_read | fs::perms::owner_write);
  const issued leaf = client_leaf("resumed-client", &intermediate_);
  write_crl("root.crl", pki().client_ca);
  write_crl("intermediate.crl", intermediate_);
  const std::vector<std::string> lines = {R"(crl = ["root.crl", "intermediate.crl"])",
                                          R"(session_ticket_key_file = "tickets.key")"};
  auto& d = start(one_service(backend, lines));
  const auto identity = client_identity::of(leaf, {&intermediate_});

  std::shared_ptr<SSL_SESSION> session;
  {
    tls_client first(client_options(identity));
    ASSERT_TRUE(first.connect(loopback, port()).ok);
    ASSERT_TRUE(first.probe().admitted);  // also collects the TLS 1.3 ticket
    session = first.session();
    first.shutdown();
  }
  ASSERT_TRUE(session);
  tls_client resumed(client_options(identity));
  resumed.offer_session(session);
  ASSERT_TRUE(resumed.connect(loopback, port()).ok);
  ASSERT_TRUE(resumed.session_reused());
  ASSERT_TRUE(resumed.probe("resumed\n").admitted);
  const std::string peer = local_address(resumed);

  // Same rules again: nothing to refuse.
  reload_to(2);
  EXPECT_TRUE(resumed.probe("after an unchanged reload\n").admitted);
  EXPECT_TRUE(d.events("live_connection_rejected").empty()) << d.output();

  // The leaf revoked by its issuer's CRL: closed.
  write_crl("intermediate.crl", intermediate_, {{&leaf}});
  reload_to(3);
  const auto rejected = d.wait_event("live_connection_rejected", {{"peer", peer}});
  EXPECT_EQ(rejected.get("reason"), "revoked");
  EXPECT_EQ(resumed.read_until_eof().end, read_end::close_notify);

  // Its ticket no longer resumes: the CRLs are part of the session's policy.
  tls_client again(client_options(identity));
  again.offer_session(session);
  const auto hs = again.connect(loopback, port());
  EXPECT_FALSE(hs.ok && again.session_reused()) << "a session from before the revocation was resumed";
  EXPECT_FALSE(hs.ok && again.probe().admitted) << "a revoked client got in on an old ticket";
}

// Without session_ticket_key_file, sessions stay in memory with the chain
// the client sent, and a resumed connection is judged on that whole chain.
TEST_F(revocation, a_connection_resumed_from_memory_is_judged_on_its_whole_chain) {
  loopback_server backend(echo_handler(), 120s);
  const issued leaf = client_leaf("resumed-client", &intermediate_);
  write_crl("root.crl", pki().client_ca);
  write_crl("intermediate.crl", intermediate_);
  auto& d = start(one_service(backend, {R"(crl = ["root.crl", "intermediate.crl"])"}));
  const auto identity = client_identity::of(leaf, {&intermediate_});

  std::shared_ptr<SSL_SESSION> session;
  {
    tls_client first(client_options(identity));
    ASSERT_TRUE(first.connect(loopback, port()).ok);
    ASSERT_TRUE(first.probe().admitted);
    session = first.session();
    first.shutdown();
  }
  ASSERT_TRUE(session);
  tls_client resumed(client_options(identity));
  resumed.offer_session(session);
  ASSERT_TRUE(resumed.connect(loopback, port()).ok);
  ASSERT_TRUE(resumed.session_reused());
  ASSERT_TRUE(resumed.probe("resumed\n").admitted);
  const std::string peer = local_address(resumed);

  // The intermediate revoked: only a judge holding the chain can see that.
  write_crl("root.crl", pki().client_ca, {{&intermediate_}});
  reload_to(2);
  const auto rejected = d.wait_event("live_connection_rejected", {{"peer", peer}});
  EXPECT_EQ(rejected.get("reason"), "revoked");
  EXPECT_NE(rejected.get("detail").find("depth=1"), std::string::npos) << rejected.get("detail");
}

TEST_F(revocation, a_client_asking_for_certificate_status_receives_the_stapled_ocsp_response) {
  if (!have_program("openssl")) GTEST_SKIP() << "openssl is not installed";
  loopback_server backend(echo_handler());
  auto& p = pki();
  // What an operator has: the CA's certificate and key, an index of what it
  // issued, and the server certificate with its issuer after it.
  write_file(dir_ / "server-ca.key", p.server_ca.key_pem());
  write_file(dir_ / "server-chain.crt", p.server.cert_pem() + p.server_ca.cert_pem());
  std::tm expiry{};
  ASN1_TIME_to_tm(X509_get0_notAfter(p.server.cert.get()), &expiry);
  char when[32];
  std::strftime(when, sizeof when, "%y%m%d%H%M%SZ", &expiry);
  // One line per certificate: status, expiry, revocation date, serial, file, subject.
  write_file(dir_ / "index.txt",
             "V\t" + std::string(when) + "\t\t" + serial_of(p.server) + "\tunknown\t/CN=localhost\n");
  const auto made = run_command({"openssl", "ocsp", "-index", (dir_ / "index.txt").string(), "-rsigner",
                                 p.server_ca_file().string(), "-rkey", (dir_ / "server-ca.key").string(), "-CA",
                                 p.server_ca_file().string(), "-issuer", p.server_ca_file().string(), "-cert",
                                 p.server_cert_file().string(), "-respout", (dir_ / "server.ocsp").string(),
                                 "-ndays", "1"},
                                10s, {}, in_path());
  ASSERT_EQ(made.status, 0) << made.out << made.err;
  std::ifstream in(dir_ / "server.ocsp", std::ios::binary);
  const std::string der((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(der.empty());

  config_spec c = one_service(backend, {R"(ocsp_staple_file = "server.ocsp")"});
  c.services[0].cert = "server-chain.crt";
  start(c);

  const issued leaf = p.client();
  auto asks = client_options(client_identity::of(leaf));
  asks.request_ocsp_status = true;
  tls_client client(asks);
  ASSERT_TRUE(client.connect(loopback, port()).ok);
  EXPECT_EQ(client.ocsp_response(), der);
  EXPECT_TRUE(client.probe().admitted);

  // openssl's own client (`s_client -status`) reads it as a good status.
  pki().write_client("client", pki().client());
  const auto s_client =
      run_command({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port()), "-status", "-cert",
                   (dir_ / "client.crt").string(), "-key", (dir_ / "client.key").string(), "-CAfile",
                   p.server_ca_file().string()},
                  10s, "", in_path());
  EXPECT_NE(s_client.out.find("OCSP Response Status: successful"), std::string::npos) << s_client.out << s_client.err;
  EXPECT_NE(s_client.out.find("Cert Status: good"), std::string::npos) << s_client.out;
}

}  // namespace
}  // namespace mtlsd::test
