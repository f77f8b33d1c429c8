// Java-world keystores and truststores with the real daemon: keytool's JKS
// and PKCS#12 stores and `openssl pkcs12 -export`'s, serving exactly the
// certificate chain they hold; keytool truststores admitting the clients of
// the CA they trust and refusing others; `mtlsd check` naming the keystore
// in its summary and reporting every store problem at once; a reload
// following a replaced keystore. The stores are made once per test process
// (java_stores.hpp).

#include <regex>

#include "integration.hpp"
#include "java_stores.hpp"

namespace mtlsd::test {
namespace {

namespace fs = std::filesystem;

std::string quoted(const fs::path& path) { return toml_string(path.string()); }

class keystore : public mtlsd_test {
 protected:
  static void SetUpTestSuite() {
    // Made up front so that no test's timing includes the JVM starting.
    auto& s = java_stores::shared();
    s.keytool_jks();
    s.keytool_p12();
    s.truststore_jks();
    s.truststore_p12();
  }

  // A TLS service requiring client certificates from `truststore` (PEM
  // unless store lines say otherwise), its own certificate from `lines`.
  service_spec tls_service(const std::string& name, const std::string& connect, std::vector<std::string> lines) {
    service_spec s;
    s.name = name;
    s.connect = connect;
    s.tls_files = false;
    s.lines = {R"(verify_client = "require")"};
    s.lines.insert(s.lines.end(), lines.begin(), lines.end());
    return s;
  }

  std::vector<std::string> from_keystore(const fs::path& store, const std::string& password_line) {
    return {"keystore = " + quoted(store), password_line, "truststore = " + quoted(stores.client_ca_file())};
  }

  std::string password_file_line(const std::string& store = "keystore") {
    return store + "_password_file = " + quoted(stores.password_file());
  }

  mtlsd_daemon& start_with_env(const config_spec& spec, std::vector<std::string> env) {
    process_options options;
    options.extra_env = std::move(env);
    daemon_ = std::make_unique<mtlsd_daemon>(
        std::vector<std::string>{mtlsd_binary, "run", "--config", write_config(spec).string()}, options);
    return *daemon_;
  }

  run_result check(const fs::path& config) {
    return run_command({mtlsd_binary, "check", "--config", config.string()}, 20s);
  }

  // A client that trusts only the server root: the handshake verifies only
  // when the intermediate from the store is served with the leaf.
  tls_client_options client_of(const issued& leaf) {
    tls_client_options o;
    o.ca_file = stores.server_root_file();
    o.verify_host = loopback;
    o.identity = client_identity::of(leaf);
    return o;
  }

  static issued client_named(const std::string& cn, const issued& ca) {
    cert_spec spec;
    spec.cn = {cn};
    return issue(spec, ca);
  }

  java_stores& stores = java_stores::shared();
  issued client = client_named("keystore-client", stores.client_ca());
};

TEST_F(keystore, serves_exactly_the_chain_each_keystore_holds) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.services = {
      tls_service("jks", backend.connect_url(), from_keystore(stores.keytool_jks(), password_file_line())),
      tls_service("keytool-p12", backend.connect_url(),
                  from_keystore(stores.keytool_p12(), R"(keystore_password_env = "MTLSD_TEST_KS_PASSWORD")")),
      tls_service("openssl-p12", backend.connect_url(), from_keystore(stores.openssl_p12(), password_file_line())),
  };
  config.services.back().lines.push_back(R"(keystore_alias = "server")");
  start_with_env(config, {std::string("MTLSD_TEST_KS_PASSWORD=") + java_stores::password});

  for (const std::string svc : {"jks", "keytool-p12", "openssl-p12"}) {
    SCOPED_TRACE(svc);
    tls_client c(client_of(client));
    const auto hs = c.connect(loopback, port(svc));
    ASSERT_TRUE(hs.ok) << hs.error;
    EXPECT_EQ(c.peer_certificate_sha256(), stores.server_leaf().sha256_hex());
    const auto probe = c.probe();
    EXPECT_TRUE(probe.admitted) << probe.error << " " << probe.alert_received;
  }
}

TEST_F(keystore, store_truststores_admit_their_ca_and_refuse_others) {
  loopback_server backend(echo_handler());
  const std::vector<std::string> pem_server = {"cert = " + quoted(stores.server_chain_file()),
                                               "key = " + quoted(stores.server_key_file())};
  auto jks = tls_service("ts-jks", backend.connect_url(), pem_server);
  jks.lines.push_back("truststore = " + quoted(stores.truststore_jks()));
  jks.lines.push_back(password_file_line("truststore"));
  auto p12 = tls_service("ts-p12", backend.connect_url(), pem_server);
  p12.lines.push_back("truststore = " + quoted(stores.truststore_p12()));
  p12.lines.push_back(R"(truststore_password_env = "MTLSD_TEST_TS_PASSWORD")");
  config_spec config;
  config.services = {jks, p12};
  auto& d = start_with_env(config, {std::string("MTLSD_TEST_TS_PASSWORD=") + java_stores::password});

  const issued outsider = client_named("outsider", stores.other_client_ca());
  for (const std::string svc : {"ts-jks", "ts-p12"}) {
    SCOPED_TRACE(svc);
    tls_client admitted(client_of(client));
    ASSERT_TRUE(admitted.connect(loopback, port(svc)).ok);
    const auto in = admitted.probe();
    EXPECT_TRUE(in.admitted) << in.error << " " << in.alert_received;

    tls_client refused(client_of(outsider));
    const auto hs = refused.connect(loopback, port(svc));
    const auto out = hs.ok ? refused.probe() : probe_result{false, hs.alert_received, hs.error, {}};
    EXPECT_FALSE(out.admitted);
    EXPECT_EQ(out.alert_received, "unknown_ca") << out.error;
    const auto failed = d.wait_event("handshake_failed", {{"svc", svc}});
    EXPECT_EQ(failed.get("reason"), "unknown_ca");
    EXPECT_NE(failed.get("detail").find("outsider"), std::string::npos) << failed.get("detail");
  }
}

TEST_F(keystore, check_summary_names_the_keystore_and_alias) {
  config_spec config;
  config.services = {
      tls_service("jks", "tcp://127.0.0.1:9", from_keystore(stores.keytool_jks(), password_file_line()))};
  const auto r = check(write_config(config));
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("  keystore       " + stores.keytool_jks().string() + ", alias server\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("certificate    CN=localhost (issuer CN=mtlsd test keystore intermediate"), std::string::npos)
      << r.out;
}

TEST_F(keystore, check_reports_every_keystore_error_at_once) {
  write_file(dir_ / "wrong.pass", "not-the-password\n");
  const std::string text =
      "[defaults]\n"                                                          // 1
      "verify_client = \"none\"\n"                                            // 2
      "keystore_password_file = " + quoted(stores.password_file()) + "\n"     // 3
      "\n"                                                                    // 4
      "[[service]]\n"                                                         // 5
      "name = \"wrong-password\"\n"                                           // 6
      "accept = \"tls://127.0.0.1:0\"\n"                                      // 7
      "connect = \"tcp://127.0.0.1:9\"\n"                                     // 8
      "keystore = " + quoted(stores.keytool_jks()) + "\n"                     // 9
      "keystore_password_file = \"wrong.pass\"\n"                             // 10
      "\n"                                                                    // 11
      "[[service]]\n"                                                         // 12
      "name = \"no-alias\"\n"                                                 // 13
      "accept = \"tls://127.0.0.1:0\"\n"                                      // 14
      "connect = \"tcp://127.0.0.1:9\"\n"                                     // 15
      "keystore = " + quoted(stores.two_keys_jks()) + "\n"                    // 16
      "\n"                                                                    // 17
      "[[service]]\n"                                                         // 18
      "name = \"jceks\"\n"                                                    // 19
      "accept = \"tls://127.0.0.1:0\"\n"                                      // 20
      "connect = \"tcp://127.0.0.1:9\"\n"                                     // 21
      "keystore = " + quoted(stores.jceks()) + "\n"                           // 22
      "\n"                                                                    // 23
      "[[service]]\n"                                                         // 24
      "name = \"both\"\n"                                                     // 25
      "accept = \"tls://127.0.0.1:0\"\n"                                      // 26
      "connect = \"tcp://127.0.0.1:9\"\n"                                     // 27
      "keystore = " + quoted(stores.keytool_p12()) + "\n"                     // 28
      "cert = " + quoted(stores.server_chain_file()) + "\n"                   // 29
      "key = " + quoted(stores.server_key_file()) + "\n";                     // 30
  const auto path = dir_ / "stores.toml";
  write_file(path, text);
  const auto r = check(path);
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  const std::string out = r.out + r.err;
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"10", R"(service\[wrong-password\]\.keystore_password_file: )"
             R"([^\n]*server\.jks: wrong password: integrity check failed)"},
      {"16", R"(service\[no-alias\]\.keystore: )"
             R"([^\n]*two-keys\.jks holds 2 private-key entries \('first', 'second'\); set keystore_alias)"},
      {"22", R"(service\[jceks\]\.keystore: [^\n]*JCEKS keystores are not supported; )"
             R"(convert with keytool -importkeystore [^\n]*-deststoretype pkcs12)"},
      {"28", R"(service\[both\]\.keystore: keystore and cert and key are both set )"
             R"(\(cert at line 29, key at line 30\))"},
  };
  for (const auto& [line, message] : expected) {
    EXPECT_TRUE(std::regex_search(out, std::regex("stores\\.toml:" + line + ":[0-9]+: " + message)))
        << "no error at line " << line << " in:\n"
        << out;
  }
  EXPECT_EQ(out.find("ready"), std::string::npos);
}

TEST_F(keystore, a_replaced_keystore_is_reloaded) {
  loopback_server backend(echo_handler());
  const fs::path live = dir_ / "server.store";
  fs::copy_file(stores.keytool_jks(), live);
  config_spec config;
  config.server_lines = {"watch = true"};
  config.services = {tls_service("svc", backend.connect_url(), from_keystore(live, password_file_line()))};
  auto& d = start(config);
  {
    tls_client c(client_of(client));
    ASSERT_TRUE(c.connect(loopback, port()).ok);
    EXPECT_EQ(c.peer_certificate_sha256(), stores.server_leaf().sha256_hex());
  }

  // The same path now holds a PKCS#12 store with another certificate: the
  // format is read from the content again, not remembered.
  cert_spec renewed_spec;
  renewed_spec.cn = {"localhost"};
  renewed_spec.dns = {"localhost"};
  renewed_spec.ip = {"127.0.0.1"};
  renewed_spec.eku = eku_kind::server_auth;
  const issued renewed = issue(renewed_spec, stores.server_intermediate());
  openssl_pkcs12_export(dir_ / "next.store", renewed, {&stores.server_intermediate()}, "server");
  fs::rename(dir_ / "next.store", live);
  d.wait_event("reloaded", {{"trigger", "watch"}});

  tls_client c(client_of(client));
  ASSERT_TRUE(c.connect(loopback, port()).ok);
  EXPECT_EQ(c.peer_certificate_sha256(), renewed.sha256_hex());
}

}  // namespace
}  // namespace mtlsd::test
