// Owner: config module tests. The loader end to end: the contract example,
// built-in defaults, syntax errors, [server], top-level structure, files.
#include <gtest/gtest.h>

#include <fstream>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::string_view minimal_tcp_service = R"(
[[service]]
name = "plain"
accept = "tcp://127.0.0.1:9000"
connect = "tcp://127.0.0.1:9001"
)";

class loader_test : public config_dir_test {};

TEST_F(loader_test, contract_example_loads_with_every_value) {
  const load_result r = load(R"(
[server]
log_level = "debug"
log_format = "json"
max_connections = 5000
drain_timeout = "45s"

[defaults]
idle_timeout = "120s"

[[service]]
name = "partner-api"
accept = "ssl://0.0.0.0:8443"
connect = "tcp://127.0.0.1:8080"
verify_client = "want"
cert = "certs/server.crt"
key = "certs/server.key"
key_password_file = "certs/key.pass"
truststore = "certs/client-ca.crt"
verify_depth = 2
min_tls_version = "1.3"
handshake_timeout = "250ms"
connect_timeout = "5m"
max_connections = 1000

[service.allow]
cn = ["partner-a"]
ou = ["payments"]
o = []
dns = ["*.partner.example"]
uri = ["spiffe://example.org/partner/*"]
ip = ["10.1.2.3", "2001:DB8:0::1"]
email = []
sha256 = ["3A:5F:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:01:23:45:67:89:AB:CD:EF:10:32:54:76:98:BA"]
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.file, config_path());
  EXPECT_EQ(r.cfg.server.level, log_level::debug);
  EXPECT_EQ(r.cfg.server.format, log_format::json);
  EXPECT_EQ(r.cfg.server.max_connections, 5000u);
  EXPECT_EQ(r.cfg.server.drain_timeout, 45s);

  ASSERT_EQ(r.cfg.services.size(), 1u);
  const service_config& s = r.cfg.services[0];
  EXPECT_EQ(s.name, "partner-api");
  EXPECT_EQ(s.key_path_prefix, "service[partner-api]");
  EXPECT_EQ(s.accept.to_string(), "tls://0.0.0.0:8443");
  EXPECT_EQ(to_string(s.connect), "tcp://127.0.0.1:8080");
  EXPECT_EQ(s.verify_client, verify_client_mode::want);
  EXPECT_EQ(s.cert, dir_.path() / "certs/server.crt");
  EXPECT_EQ(s.key, dir_.path() / "certs/server.key");
  EXPECT_EQ(s.key_password_file, dir_.path() / "certs/key.pass");
  EXPECT_EQ(s.truststore, dir_.path() / "certs/client-ca.crt");
  EXPECT_EQ(s.verify_depth, 2);
  EXPECT_EQ(s.min_tls_version, tls_version::tls1_3);
  EXPECT_EQ(s.handshake_timeout, 250ms);
  EXPECT_EQ(s.idle_timeout, 120s);
  EXPECT_EQ(s.connect_timeout, 5min);
  EXPECT_EQ(s.max_connections, std::optional<std::size_t>(1000));

  ASSERT_TRUE(s.allow.has_value());
  EXPECT_EQ(s.allow->cn, std::vector<std::string>{"partner-a"});
  EXPECT_EQ(s.allow->ou, std::vector<std::string>{"payments"});
  EXPECT_TRUE(s.allow->o.empty());
  EXPECT_EQ(s.allow->dns, std::vector<std::string>{"*.partner.example"});
  EXPECT_EQ(s.allow->uri, std::vector<std::string>{"spiffe://example.org/partner/*"});
  EXPECT_EQ(s.allow->ip, (std::vector<std::string>{"10.1.2.3", "2001:db8::1"}));
  EXPECT_TRUE(s.allow->email.empty());
  EXPECT_EQ(s.allow->sha256,
            std::vector<std::string>{"3a5f00112233445566778899aabbccddeeff0123456789abcdef1032547698ba"});
  EXPECT_EQ(s.allow->size(), 7u);
  EXPECT_FALSE(s.allow->empty());

  // Positions of effective values, for errors found later (TLS module).
  const std::string file = config_path().string();
  EXPECT_EQ(s.position_of("cert").file, file);
  EXPECT_EQ(s.position_of("cert").line, 15);
  EXPECT_EQ(s.position_of("cert").column, 8);
  EXPECT_EQ(s.position_of("idle_timeout").line, 8);  // from [defaults]
  EXPECT_EQ(s.position_of("allow").line, 25);
  EXPECT_EQ(s.position_of("allow.sha256").line, 33);
  EXPECT_EQ(s.position_of("allow.sha256").column, 10);
  // A key never written falls back to the [[service]] header.
  EXPECT_EQ(s.position_of("verify_depth_typo").line, 10);
  EXPECT_EQ(s.position_of("verify_depth_typo").column, 1);
}

TEST_F(loader_test, built_in_defaults_apply_when_keys_are_absent) {
  const load_result r = load(minimal_tcp_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.server.level, log_level::info);
  EXPECT_EQ(r.cfg.server.format, log_format::text);
  EXPECT_EQ(r.cfg.server.max_connections, 10000u);
  EXPECT_EQ(r.cfg.server.drain_timeout, 30s);
  ASSERT_EQ(r.cfg.services.size(), 1u);
  const service_config& s = r.cfg.services[0];
  EXPECT_EQ(s.accept.scheme, transport::tcp);
  EXPECT_EQ(s.verify_client, verify_client_mode::require);
  EXPECT_TRUE(s.cert.empty());
  EXPECT_EQ(s.verify_depth, 4);
  EXPECT_EQ(s.min_tls_version, tls_version::tls1_2);
  EXPECT_EQ(s.handshake_timeout, 10s);
  EXPECT_EQ(s.idle_timeout, 300s);
  EXPECT_EQ(s.connect_timeout, 5s);
  EXPECT_FALSE(s.max_connections.has_value());
  EXPECT_FALSE(s.allow.has_value());
}

TEST_F(loader_test, ipv6_listener_and_backend_host_name) {
  const load_result r = load(R"(
[[service]]
name = "v6"
accept = "tcp://[::1]:0"
connect = "tcp://backend.internal:8080"
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.services[0].accept.host_port(), "[::1]:0");
  EXPECT_EQ(r.cfg.services[0].connect.front().host, "backend.internal");
}

TEST(loader_errors, file_in_messages_is_the_path_as_given) {
  const load_result r = load_config_text("[server]\nlog_level = \"loud\"\n" + toml_text(minimal_tcp_service),
                                         "conf/mtlsd.toml");
  ASSERT_EQ(r.errors.size(), 1u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].to_string(),
            "conf/mtlsd.toml:2:13: server.log_level: must be one of trace, debug, info, warn, error (got \"loud\")");
  EXPECT_TRUE(r.cfg.file.is_absolute());
  EXPECT_EQ(r.cfg.file, fs::current_path() / "conf/mtlsd.toml");
}

TEST(loader_errors, syntax_error_is_reported_alone_with_its_position) {
  const load_result r = load_config_text(toml_text(R"(
bogus_top_level = 1
[server]
log_level = "info"
max_connections = = 3
)"),
                                         "x.toml");
  ASSERT_EQ(r.errors.size(), 1u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].where.file, "x.toml");
  EXPECT_EQ(r.errors[0].where.line, 4);
  EXPECT_EQ(r.errors[0].where.column, 19);
  EXPECT_EQ(r.errors[0].key, "");
  // toml++'s own description of the problem, on one line.
  EXPECT_FALSE(r.errors[0].message.empty());
  EXPECT_EQ(r.errors[0].message.find('\n'), std::string::npos) << r.errors[0].message;
  EXPECT_EQ(r.errors[0].to_string().rfind("x.toml:4:19: ", 0), 0u) << r.errors[0].to_string();
}

TEST(loader_errors, redefined_table_is_a_syntax_error) {
  const load_result r = load_config_text("[server]\nlog_level = \"info\"\n[server]\n", "x.toml");
  ASSERT_EQ(r.errors.size(), 1u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].where.line, 3);
  EXPECT_EQ(r.errors[0].where.column, 1);
}

TEST(loader_errors, server_values_are_validated) {
  const load_result r = load_config_text(toml_text(R"(
[server]
log_level = "verbose"
log_format = "xml"
max_connections = 0
drain_timeout = "-1s"
)") + toml_text(minimal_tcp_service),
                                         "m.toml");
  EXPECT_EQ(r.errors.size(), 4u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 2, 13, "server.log_level", "must be one of trace, debug, info, warn, error (got \"verbose\")"));
  EXPECT_TRUE(has_error(r, 3, 14, "server.log_format", "must be one of text, json (got \"xml\")"));
  EXPECT_TRUE(has_error(r, 4, 19, "server.max_connections", "must be at least 1 (got 0)"));
  EXPECT_TRUE(has_error(r, 5, 17, "server.drain_timeout", "negative duration \"-1s\" is not allowed"));
}

TEST(loader_errors, server_types_are_checked) {
  const load_result r = load_config_text(toml_text(R"(
[server]
log_level = 3
max_connections = "many"
drain_timeout = 30
)") + toml_text(minimal_tcp_service),
                                         "m.toml");
  EXPECT_EQ(r.errors.size(), 3u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 2, 13, "server.log_level", "expected a string, got integer"));
  EXPECT_TRUE(has_error(r, 3, 19, "server.max_connections", "expected an integer, got string"));
  EXPECT_TRUE(has_error(r, 4, 17, "server.drain_timeout",
                        "expected a string, got integer (durations are written like \"10s\")"));
}

TEST(loader_errors, drain_timeout_may_be_zero) {
  const load_result r =
      load_config_text("[server]\ndrain_timeout = \"0s\"\n" + toml_text(minimal_tcp_service), "m.toml");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.server.drain_timeout, 0ms);
}

TEST(loader_errors, unknown_keys_get_a_suggestion_or_a_home) {
  const load_result r = load_config_text(toml_text(R"(
servr_name = "a"
log_level = "info"
[server]
log_levl = "info"
idle_timeout = "5s"
colour = true
)") + toml_text(minimal_tcp_service),
                                         "m.toml");
  EXPECT_EQ(r.errors.size(), 5u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 1, 1, "servr_name", "unknown key"));
  EXPECT_TRUE(has_error(r, 2, 1, "log_level", "unknown key; \"log_level\" belongs in [server]"));
  EXPECT_TRUE(has_error(r, 4, 1, "server.log_levl", "unknown key; did you mean \"log_level\"?"));
  EXPECT_TRUE(has_error(r, 5, 1, "server.idle_timeout",
                        "unknown key; \"idle_timeout\" belongs in [defaults] or a [[service]] block"));
  EXPECT_TRUE(has_error(r, 6, 1, "server.colour", "unknown key"));
  for (const config_error& e : r.errors) {
    if (e.key == "servr_name" || e.key == "server.colour") {
      EXPECT_EQ(e.message, "unknown key");
    }
  }
}

TEST(loader_errors, top_level_typo_suggests_the_table) {
  const load_result r = load_config_text("[servre]\nlog_level = \"info\"\n" + toml_text(minimal_tcp_service), "m.toml");
  EXPECT_TRUE(has_only_error(r, 1, 2, "servre", "unknown key; did you mean \"server\"?"));
}

TEST(loader_errors, tables_must_be_tables) {
  const load_result r = load_config_text("server = \"big\"\ndefaults = [1]\n" + toml_text(minimal_tcp_service), "m.toml");
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 1, 10, "server", "expected a table, got string"));
  EXPECT_TRUE(has_error(r, 2, 12, "defaults", "expected a table, got array"));
}

TEST(loader_errors, at_least_one_service_is_required) {
  const load_result missing = load_config_text("[server]\nlog_level = \"info\"\n", "m.toml");
  EXPECT_TRUE(has_only_error(missing, 0, 0, "service", "no [[service]] defined"));
  EXPECT_EQ(missing.errors[0].to_string(), "m.toml: service: no [[service]] defined");

  const load_result empty_array = load_config_text("service = []\n", "m.toml");
  EXPECT_TRUE(has_only_error(empty_array, 0, 0, "service", "no [[service]] defined"));

  const load_result empty_file = load_config_text("", "m.toml");
  EXPECT_TRUE(has_only_error(empty_file, 0, 0, "service", "no [[service]] defined"));
}

TEST(loader_errors, single_bracket_service_table_is_explained) {
  const load_result r = load_config_text(R"([service]
name = "a"
)",
                                         "m.toml");
  EXPECT_TRUE(has_only_error(r, 1, 1, "service", "expected an array of tables ([[service]]), got table"));
}

TEST(loader_errors, service_elements_must_be_tables) {
  const load_result r = load_config_text("service = [1, { name = \"a\", accept = \"tcp://127.0.0.1:1\", "
                                         "connect = \"tcp://127.0.0.1:2\" }]\n",
                                         "m.toml");
  EXPECT_TRUE(has_only_error(r, 1, 12, "service[1]", "expected a table, got integer"));
  ASSERT_EQ(r.cfg.services.size(), 1u);
  EXPECT_EQ(r.cfg.services[0].name, "a");
}

TEST(loader_errors, errors_are_listed_in_document_order) {
  const load_result r = load_config_text(toml_text(R"(
[server]
max_connections = 0
log_level = "x"
[[service]]
name = "a"
connect = "tcp://127.0.0.1:1"
accept = "tcp://127.0.0.1:0"
verify_depth = 3
)"),
                                         "m.toml");
  ASSERT_EQ(r.errors.size(), 3u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].where.line, 2);
  EXPECT_EQ(r.errors[1].where.line, 3);
  EXPECT_EQ(r.errors[2].where.line, 8);
}

TEST_F(loader_test, load_config_file_reads_from_disk) {
  const fs::path file = dir_.write("etc/mtlsd.toml", toml_text(R"(
[[service]]
name = "web"
accept = "tls://127.0.0.1:0"
connect = "tcp://127.0.0.1:8080"
cert = "../certs/server.crt"
key = "../certs/server.key"
truststore = "../certs/ca-dir"
)"));
  const load_result r = load_config_file(file);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.file, file);
  EXPECT_EQ(r.cfg.services[0].cert, dir_.path() / "certs/server.crt");
  EXPECT_EQ(r.cfg.services[0].truststore, dir_.path() / "certs/ca-dir");
}

TEST_F(loader_test, load_config_file_reports_an_unreadable_file) {
  const fs::path missing = dir_.path() / "nope.toml";
  const load_result r = load_config_file(missing);
  EXPECT_TRUE(has_only_error(r, 0, 0, "", "cannot read config file: No such file or directory"));
  EXPECT_EQ(r.errors[0].to_string(), missing.string() + ": cannot read config file: No such file or directory");

  const load_result directory = load_config_file(dir_.path());
  EXPECT_TRUE(has_only_error(directory, 0, 0, "", "cannot read config file: Is a directory"));
}

TEST_F(loader_test, load_config_file_reports_syntax_errors_with_the_given_path) {
  const fs::path file = dir_.write("bad.toml", "[server\n");
  const load_result r = load_config_file(file);
  ASSERT_EQ(r.errors.size(), 1u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].where.file, file.string());
  EXPECT_EQ(r.errors[0].where.line, 1);
}

TEST(config_error, to_string_formats) {
  config_error e{{"conf/mtlsd.toml", 12, 9}, "service[partner-api].verify_client",
                 "must be one of none, want, require (got \"maybe\")"};
  EXPECT_EQ(e.to_string(),
            "conf/mtlsd.toml:12:9: service[partner-api].verify_client: must be one of none, want, require (got "
            "\"maybe\")");
  config_error syntax{{"a.toml", 3, 1}, "", "bad"};
  EXPECT_EQ(syntax.to_string(), "a.toml:3:1: bad");
}

TEST(config_values, enum_names) {
  EXPECT_EQ(to_string(log_level::warn), "warn");
  EXPECT_EQ(to_string(log_format::json), "json");
  EXPECT_EQ(to_string(verify_client_mode::none), "none");
  EXPECT_EQ(to_string(tls_version::tls1_3), "1.3");
}

TEST(config_values, allow_rules_size_counts_every_field) {
  allow_rules rules;
  EXPECT_TRUE(rules.empty());
  rules.cn = {"a", "b"};
  rules.sha256 = {"c"};
  rules.email = {"d"};
  EXPECT_EQ(rules.size(), 4u);
  EXPECT_FALSE(rules.empty());
}

// [server] workers: the number of event-loop threads.
TEST_F(loader_test, workers_defaults_to_zero_meaning_one_per_core) {
  const load_result r = load(minimal_tcp_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.server.workers, 0u);
}

TEST_F(loader_test, workers_takes_a_count) {
  const load_result r = load(std::string("[server]\nworkers = 4\n") + std::string(minimal_tcp_service));
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.server.workers, 4u);
}

TEST_F(loader_test, workers_out_of_range_or_of_the_wrong_type_is_an_error) {
  EXPECT_TRUE(has_only_error(load(std::string("[server]\nworkers = 257\n") + std::string(minimal_tcp_service)), 2, 11,
                             "server.workers", "must be between 0 and 256 (got 257)"));
  EXPECT_TRUE(has_only_error(load(std::string("[server]\nworkers = \"2\"\n") + std::string(minimal_tcp_service)), 2,
                             11, "server.workers", "expected an integer, got string"));
}

}  // namespace
}  // namespace mtlsd::test
