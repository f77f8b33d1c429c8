// Owner: config module tests. One load reports every problem in the file,
// not just the first: the operator fixes a config in one round trip.
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

class all_errors : public config_dir_test {};

TEST_F(all_errors, every_problem_is_reported_in_one_call) {
  const load_result r = load(R"(
colour = "blue"
[server]
log_level = "loud"
max_connections = -5

[defaults]
idle_timeout = "10"
handshake_timeout = "2s"

[[service]]
name = "partner-api"
accept = "tls://0.0.0.0:8443"
connect = "tcp://127.0.0.1:0"
verfy_client = "require"
verify_client = "maybe"
cert = "certs/missing.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
verify_depth = 99
[service.allow]
sha256 = ["3A:5F"]
dns = ["a*.b"]

[[service]]
name = "partner-api"
accept = "tcp://127.0.0.1:8443"
connect = "tcp://127.0.0.1:9"
cert = "certs/server.crt"

[[service]]
name = "bad name"
accept = "tcp://localhost"
connect = "tcp://127.0.0.1:9"

[[service]]
name = "locked"
accept = "tls://[::1]:9443"
connect = "tcp://127.0.0.1:9"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/ca-dir"
[service.allow]
cn = []

[[service]]
name = "no-backend"
accept = "tcp://127.0.0.1:7000"
)");
  const std::string dir = dir_.path().string();
  struct expected_error {
    int line, column;
    std::string key, message;
  };
  const std::vector<expected_error> expected = {
      {1, 1, "colour", "unknown key"},
      {3, 13, "server.log_level", "must be one of trace, debug, info, warn, error (got \"loud\")"},
      {4, 19, "server.max_connections", "must be at least 1 (got -5)"},
      {7, 16, "defaults.idle_timeout", "missing unit in duration \"10\""},
      {13, 11, "service[partner-api].connect", "port must not be 0 for a backend"},
      {14, 1, "service[partner-api].verfy_client", "unknown key; did you mean \"verify_client\"?"},
      {15, 17, "service[partner-api].verify_client", "must be one of none, want, require (got \"maybe\")"},
      {16, 8, "service[partner-api].cert",
       "file not found: certs/missing.crt (resolved to " + dir + "/certs/missing.crt)"},
      {19, 16, "service[partner-api].verify_depth", "must be between 0 and 32 (got 99)"},
      {21, 11, "service[partner-api].allow.sha256", "not a SHA-256 fingerprint: expected 64 hex digits"},
      {22, 8, "service[partner-api].allow.dns", "invalid DNS pattern \"a*.b\""},
      {25, 8, "service[partner-api].name", "duplicate service name \"partner-api\" (first defined at line 11)"},
      {26, 10, "service[partner-api].accept",
       "address conflicts with service \"partner-api\" (accept = \"tls://0.0.0.0:8443\" at line 12)"},
      {28, 8, "service[partner-api].cert", "TLS option on a plain tcp:// listener"},
      {31, 8, "service[3].name", "invalid service name \"bad name\""},
      {32, 10, "service[3].accept", "invalid address \"tcp://localhost\": missing port"},
      {42, 1, "service[locked].allow", "empty whitelist admits nobody"},
      {45, 1, "service[no-backend].connect", "required key missing"},
  };
  EXPECT_EQ(r.errors.size(), expected.size()) << describe(r.errors);
  for (const expected_error& e : expected) {
    EXPECT_TRUE(has_error(r, e.line, e.column, e.key, e.message));
  }
  // Sorted by position, so the printed list reads top to bottom.
  for (std::size_t i = 1; i < r.errors.size(); ++i) {
    EXPECT_LE(r.errors[i - 1].where.line, r.errors[i].where.line) << describe(r.errors);
  }
  for (const config_error& e : r.errors) EXPECT_EQ(e.where.file, config_path().string());
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace mtlsd::test
