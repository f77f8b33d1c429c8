// Configuration features seen from a client: IPv6 listeners, encrypted keys,
// truststore directories and bundles, server chains, [defaults], JSON logs.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <regex>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

bool ipv6_loopback_available() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

class config_features : public mtlsd_test {};

TEST_F(config_features, ipv6_listener_serves_clients) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback here";
  loopback_server backend(echo_handler());
  auto svc = service(backend.connect_url());
  svc.accept = "tls://[::1]:0";
  config_spec config;
  config.services.push_back(svc);
  auto& d = start(config);
  EXPECT_EQ(d.host("svc"), "::1");

  auto leaf = pki().client();
  auto options = client_options(client_identity::of(leaf));
  options.verify_host = "::1";
  tls_client client(options);
  auto hs = client.connect("::1", port());
  ASSERT_TRUE(hs.ok) << hs.error;
  EXPECT_TRUE(client.probe().admitted);
  client.close();
  EXPECT_EQ(d.wait_event("access").get("peer").rfind("[::1]:", 0), 0u);
}

TEST_F(config_features, encrypted_server_key_is_read_with_key_password_file) {
  write_file(dir_ / "server-enc.key", pki().server.key_pem_encrypted("correct horse"));
  write_file(dir_ / "key.pass", "correct horse");
  loopback_server backend(echo_handler());
  auto svc = service(backend.connect_url());
  svc.key = "server-enc.key";
  svc.lines = {R"(key_password_file = "key.pass")"};
  config_spec config;
  config.services.push_back(svc);
  start(config);
  auto leaf = pki().client();
  EXPECT_TRUE(connect_and_probe(client_identity::of(leaf)).admitted);
}

TEST_F(config_features, encrypted_server_key_with_wrong_password_is_a_config_error) {
  write_file(dir_ / "server-enc.key", pki().server.key_pem_encrypted("correct horse"));
  write_file(dir_ / "key.pass", "wrong pony");
  auto svc = service("tcp://127.0.0.1:1");
  svc.key = "server-enc.key";
  svc.lines = {R"(key_password_file = "key.pass")"};
  config_spec config;
  config.services.push_back(svc);
  auto r = run_command({mtlsd_binary, "check", "--config", write_config(config).string()}, 10s);
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(std::regex_search(r.err + r.out, std::regex(R"(mtlsd\.toml:[0-9]+:[0-9]+: service\[svc\]\.key)")))
      << r.out << r.err;
}

TEST_F(config_features, truststore_directory_trusts_each_ca_file_in_it) {
  cert_spec ca;
  ca.is_ca = true;
  ca.cn = {"second client CA"};
  auto second_ca = make_self_signed(ca);
  ca.cn = {"not trusted CA"};
  auto stranger_ca = make_self_signed(ca);
  write_file(dir_ / "trust.d" / "first.pem", pki().client_ca.cert_pem());
  write_file(dir_ / "trust.d" / "second.pem", second_ca.cert_pem());

  loopback_server backend(echo_handler());
  auto svc = service(backend.connect_url());
  svc.truststore = "trust.d";
  config_spec config;
  config.services.push_back(svc);
  auto& d = start(config);

  cert_spec leaf_spec;
  leaf_spec.cn = {"dir-client"};
  auto from_first = pki().client(leaf_spec);
  auto from_second = issue(leaf_spec, second_ca);
  auto from_stranger = issue(leaf_spec, stranger_ca);
  EXPECT_TRUE(connect_and_probe(client_identity::of(from_first)).admitted);
  EXPECT_TRUE(connect_and_probe(client_identity::of(from_second)).admitted);
  EXPECT_FALSE(connect_and_probe(client_identity::of(from_stranger)).admitted);
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "unknown_ca");
}

TEST_F(config_features, truststore_bundle_trusts_every_ca_in_it) {
  cert_spec ca;
  ca.is_ca = true;
  ca.cn = {"second client CA"};
  auto second_ca = make_self_signed(ca);
  write_file(dir_ / "bundle.pem", pki().client_ca.cert_pem() + second_ca.cert_pem());
  loopback_server backend(echo_handler());
  auto svc = service(backend.connect_url());
  svc.truststore = "bundle.pem";
  config_spec config;
  config.services.push_back(svc);
  start(config);
  auto from_first = pki().client();
  cert_spec leaf_spec;
  leaf_spec.cn = {"second-client"};
  auto from_second = issue(leaf_spec, second_ca);
  EXPECT_TRUE(connect_and_probe(client_identity::of(from_first)).admitted);
  EXPECT_TRUE(connect_and_probe(client_identity::of(from_second)).admitted);
}

TEST_F(config_features, server_chain_in_cert_file_is_sent_to_clients) {
  cert_spec ca;
  ca.is_ca = true;
  ca.cn = {"server intermediate"};
  auto intermediate = issue(ca, pki().server_ca);
  cert_spec srv;
  srv.cn = {"localhost"};
  srv.dns = {"localhost"};
  srv.ip = {"127.0.0.1"};
  srv.eku = eku_kind::server_auth;
  auto leaf = issue(srv, intermediate);
  write_file(dir_ / "chain.crt", leaf.cert_pem() + intermediate.cert_pem());
  write_file(dir_ / "chain.key", leaf.key_pem());

  loopback_server backend(echo_handler());
  auto svc = service(backend.connect_url());
  svc.cert = "chain.crt";
  svc.key = "chain.key";
  config_spec config;
  config.services.push_back(svc);
  start(config);
  // The client trusts only the server root: verification needs the intermediate from mtlsd.
  auto client_leaf = pki().client();
  auto result = connect_and_probe(client_identity::of(client_leaf));
  EXPECT_TRUE(result.admitted) << result.error;
}

TEST_F(config_features, defaults_apply_unless_the_service_sets_its_own_value) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.defaults_lines = {R"(verify_client = "none")"};
  auto inherits = service(backend.connect_url(), "");
  inherits.name = "inherits";
  auto own = service(backend.connect_url(), "require");
  own.name = "own";
  config.services = {inherits, own};
  auto& d = start(config);

  EXPECT_TRUE(connect_and_probe(std::nullopt, "inherits").admitted);
  EXPECT_EQ(d.wait_event("access", {{"svc", "inherits"}}).get("verify"), "none");
  EXPECT_FALSE(connect_and_probe(std::nullopt, "own").admitted);
  EXPECT_EQ(d.wait_event("handshake_failed", {{"svc", "own"}}).get("reason"), "no_certificate");
}

TEST_F(config_features, json_log_format_writes_one_object_per_line) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.server_lines = {R"(log_format = "json")"};
  config.services.push_back(service(backend.connect_url()));
  process p({mtlsd_binary, "run", "--config", write_config(config).string()});
  p.wait_for_line(rx(R"(^\{.*"event":"ready".*\}$)"), 10s);
  const auto listening = p.wait_for_line(rx(R"("event":"listening")"), 1s);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(listening, m, std::regex(R"re("addr":"127\.0\.0\.1:([0-9]+)")re"))) << listening;
  const auto json_port = static_cast<std::uint16_t>(std::stoi(m[1]));

  auto leaf = pki().client();
  tls_client client(client_options(client_identity::of(leaf)));
  ASSERT_TRUE(client.connect(loopback, json_port).ok);
  EXPECT_TRUE(client.probe().admitted);
  client.close();
  const auto access = p.wait_for_line(rx(R"("event":"access")"), 10s);
  EXPECT_TRUE(std::regex_search(access, std::regex(R"(^\{"ts":"[^"]+","level":"info",.*"verify":"ok".*\}$)")))
      << access;
  EXPECT_TRUE(std::regex_search(access, std::regex(R"("bytes_from_client":6[,}])"))) << access;
  for (const auto& line : p.lines()) {
    EXPECT_TRUE(!line.text.empty() && line.text.front() == '{') << "not JSON: " << line.text;
  }
  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(5s), 0);
}

}  // namespace
}  // namespace mtlsd::test
