// The command line: check, run, version, help — exit codes and what is printed.

#include <csignal>
#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

std::string project_version() {
  std::ifstream in(source_dir + "/CMakeLists.txt");
  std::stringstream text;
  text << in.rdbuf();
  std::smatch m;
  const std::string s = text.str();
  if (std::regex_search(s, m, std::regex(R"(project\(mtlsd VERSION ([0-9.]+))"))) return m[1];
  return "unknown";
}

class cli : public mtlsd_test {
 protected:
  run_result mtlsd(std::vector<std::string> args) {
    args.insert(args.begin(), mtlsd_binary);
    return run_command(std::move(args), 10s);
  }

  // A valid two-service config: one TLS with a whitelist and a two-CA truststore, one plain.
  std::filesystem::path valid_config() {
    auto& p = pki();
    write_file(dir_ / "two-cas.crt", p.client_ca.cert_pem() + p.server_ca.cert_pem());
    auto tls = service("tcp://127.0.0.1:8080");
    tls.name = "partner-api";
    tls.truststore = "two-cas.crt";
    tls.allow = {R"(cn = ["partner-a"])", R"(dns = ["*.partner.example"])"};
    service_spec plain;
    plain.name = "plain-svc";
    plain.accept = "tcp://127.0.0.1:0";
    plain.connect = "tcp://127.0.0.1:8081";
    plain.tls_files = false;
    config_spec config;
    config.services = {tls, plain};
    return write_config(config);
  }
};

TEST_F(cli, check_accepts_a_valid_config_and_prints_a_summary_per_service) {
  auto r = mtlsd({"check", "--config", valid_config().string()});
  const std::string out = r.out + r.err;
  EXPECT_EQ(r.status, 0) << out;
  for (const std::string expected :
       {"partner-api", "tls://127.0.0.1:0", "tcp://127.0.0.1:8080", "require", "localhost", "partner-a",
        "*.partner.example", "plain-svc", "tcp://127.0.0.1:8081"}) {
    EXPECT_NE(out.find(expected), std::string::npos) << "missing '" << expected << "' in:\n" << out;
  }
  // Two CAs in the truststore bundle.
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\b2\b[^\n]*(CA|ca|certificate))"))) << out;
  // The server certificate's expiry (its date, at least), so an operator sees it coming.
  std::tm not_after{};
  ASSERT_EQ(ASN1_TIME_to_tm(X509_get0_notAfter(pki().server.cert.get()), &not_after), 1);
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", &not_after);
  EXPECT_NE(out.find(date), std::string::npos) << "server cert not-after " << date << " missing in:\n" << out;
  EXPECT_NE(out.find("CN=localhost"), std::string::npos) << out;
}

TEST_F(cli, check_summarises_balancing_health_and_proxy_protocol) {
  service_spec pool;
  pool.name = "pool";
  pool.accept = "tcp://127.0.0.1:0";
  pool.connect_list = {"tcp://127.0.0.1:8081", "tcp://127.0.0.1:8082"};
  pool.tls_files = false;
  pool.lines = {R"(balance = "least_connections")", R"(health_check_interval = "5s")", R"(proxy_protocol = "v2")",
                R"(proxy_protocol_tlvs = ["ssl", "cert_sha256"])", "accept_proxy_protocol = true"};
  config_spec config;
  config.services = {pool};
  auto r = mtlsd({"check", "--config", write_config(config).string()});
  const std::string out = r.out + r.err;
  EXPECT_EQ(r.status, 0) << out;
  for (const std::string expected :
       {"tcp://127.0.0.1:8081, tcp://127.0.0.1:8082", "balance        least_connections",
        "health checks  every 5s", "proxy_protocol v2 sent to the backend (TLVs: ssl, cert_sha256)",
        "accept_proxy_protocol v1/v2 header required"}) {
    EXPECT_NE(out.find(expected), std::string::npos) << "missing '" << expected << "' in:\n" << out;
  }
}

TEST_F(cli, check_does_not_start_listening) {
  auto r = mtlsd({"check", "--config", valid_config().string()});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ((r.out + r.err).find("ready services="), std::string::npos);
}

TEST_F(cli, check_reports_every_error_with_file_line_and_column) {
  pki();
  // A key that belongs to another certificate.
  write_file(dir_ / "other.key", pki().client().key_pem());
  const std::string text =
      "[[service]]\n"                        // 1
      "name = \"bad\"\n"                     // 2
      "accept = \"tls://127.0.0.1:0\"\n"     // 3
      "connect = \"tcp://127.0.0.1:1\"\n"    // 4
      "verify_client = \"sometimes\"\n"      // 5: not an allowed value
      "cert = \"server.crt\"\n"              // 6
      "key = \"other.key\"\n"                // 7: does not match cert
      "truststore = \"missing-ca.crt\"\n"    // 8: no such file
      "colour = \"blue\"\n";                 // 9: unknown key
  const auto path = dir_ / "bad.toml";
  write_file(path, text);

  auto r = mtlsd({"check", "--config", path.string()});
  EXPECT_EQ(r.status, 1);
  const std::string out = r.out + r.err;
  for (const auto& [line, key] : std::vector<std::pair<int, std::string>>{
           {5, "verify_client"}, {7, "key"}, {8, "truststore"}, {9, "colour"}}) {
    const std::regex expected("bad\\.toml:" + std::to_string(line) + ":[0-9]+: [^\\n]*" + key + "[^\\n]*: .+");
    EXPECT_TRUE(std::regex_search(out, expected)) << "no error for line " << line << " (" << key << ") in:\n"
                                                  << out;
  }
}

TEST_F(cli, check_reports_a_key_that_does_not_match_the_cert) {
  pki();
  write_file(dir_ / "other.key", pki().client().key_pem());
  const auto path = dir_ / "mismatch.toml";
  write_file(path,
             "[[service]]\n"
             "name = \"svc\"\n"
             "accept = \"tls://127.0.0.1:0\"\n"
             "connect = \"tcp://127.0.0.1:1\"\n"
             "verify_client = \"none\"\n"
             "cert = \"server.crt\"\n"
             "key = \"other.key\"\n");  // line 7
  auto r = mtlsd({"check", "--config", path.string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(std::regex_search(r.out + r.err, std::regex(R"(mismatch\.toml:7:[0-9]+: service\[svc\]\.key: .+)")))
      << r.out << r.err;
}

TEST_F(cli, run_with_a_bad_config_exits_1_without_listening) {
  const auto path = dir_ / "bad.toml";
  write_file(path,
             "[[service]]\n"
             "name = \"bad\"\n"
             "accept = \"tls://127.0.0.1:0\"\n"
             "connect = \"tcp://127.0.0.1:1\"\n"
             "verify_client = \"none\"\n"
             "cert = \"nope.crt\"\n"
             "key = \"nope.key\"\n");
  auto r = mtlsd({"run", "--config", path.string()});
  EXPECT_EQ(r.status, 1);
  const std::string out = r.out + r.err;
  EXPECT_EQ(out.find("listening"), std::string::npos) << out;
  EXPECT_EQ(out.find("ready"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(bad\.toml:6:[0-9]+: [^\n]*cert)"))) << out;
}

TEST_F(cli, config_flag_alone_means_run) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  const auto path = write_config(config);
  process p({mtlsd_binary, "--config", path.string()});
  p.wait_for_line(log_event("ready"), 10s);
  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(5s), 0);
}

TEST_F(cli, version_prints_the_project_version) {
  const auto version = project_version();
  for (const auto& args : {std::vector<std::string>{"--version"}, std::vector<std::string>{"version"}}) {
    auto r = mtlsd(args);
    EXPECT_EQ(r.status, 0) << args[0];
    EXPECT_NE((r.out + r.err).find(version), std::string::npos) << args[0] << ": " << r.out << r.err;
  }
}

TEST_F(cli, help_describes_the_commands) {
  auto r = mtlsd({"--help"});
  EXPECT_EQ(r.status, 0);
  const std::string out = r.out + r.err;
  for (const std::string word : {"run", "check", "version", "--config"}) {
    EXPECT_NE(out.find(word), std::string::npos) << word << " missing in:\n" << out;
  }
}

TEST_F(cli, every_command_has_help) {
  for (const std::string command : {"run", "check", "version"}) {
    auto r = mtlsd({command, "--help"});
    EXPECT_EQ(r.status, 0) << command << ": " << r.out << r.err;
    EXPECT_FALSE((r.out + r.err).empty()) << command;
  }
}

TEST_F(cli, unknown_command_fails) {
  auto r = mtlsd({"frobnicate"});
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(r.err.empty());
}

TEST_F(cli, check_without_config_fails) {
  auto r = mtlsd({"check"});
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE((r.out + r.err).empty());
}

}  // namespace
}  // namespace mtlsd::test
