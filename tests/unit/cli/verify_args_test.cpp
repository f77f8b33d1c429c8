// `mtlsd verify`'s command line and report format: what users type and read.

#include <gtest/gtest.h>

#include <sstream>

#include "mtlsd/cli/verify.hpp"

namespace mtlsd::cli {
namespace {

bool parse(std::vector<std::string_view> args, verify_options& opts, std::string& error) {
  return parse_verify_args(args, opts, error);
}

TEST(verify_args, config_mode_needs_a_service_and_a_chain) {
  verify_options opts;
  std::string error;
  ASSERT_TRUE(parse({"--config", "m.toml", "--service", "api", "chain.pem"}, opts, error)) << error;
  EXPECT_EQ(opts.config, "m.toml");
  EXPECT_EQ(opts.service, "api");
  EXPECT_EQ(opts.chain, "chain.pem");

  verify_options no_service;
  EXPECT_FALSE(parse({"--config", "m.toml", "chain.pem"}, no_service, error));
  EXPECT_NE(error.find("--service"), std::string::npos);
  verify_options no_chain;
  EXPECT_FALSE(parse({"--config=m.toml", "--service=api"}, no_chain, error));
  EXPECT_NE(error.find("CHAIN.pem"), std::string::npos);
}

TEST(verify_args, standalone_flags_fill_the_service) {
  verify_options opts;
  std::string error;
  ASSERT_TRUE(parse({"--truststore", "ca.pem", "--crl", "a.crl", "--crl", "b.crl", "--crl-stale", "warn",
                     "--verify-depth", "2", "--require-client-auth-eku", "false", "--allow-cn", "a",
                     "--allow-cn", "b", "--allow-dns=*.x.example", "--allow-spiffe-id", "spiffe://t/x", "--json",
                     "chain.pem"},
                    opts, error))
      << error;
  const service_config s = standalone_service(opts);
  EXPECT_EQ(s.truststore, "ca.pem");
  ASSERT_EQ(s.crl.size(), 2u);
  EXPECT_EQ(s.crl[1], "b.crl");
  EXPECT_EQ(s.crl_stale, crl_stale_mode::warn);
  EXPECT_EQ(s.verify_depth, 2);
  EXPECT_FALSE(s.require_client_auth_eku);
  EXPECT_EQ(s.verify_client, verify_client_mode::require);
  ASSERT_TRUE(s.allow.has_value());
  EXPECT_EQ(s.allow->cn, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.allow->dns, (std::vector<std::string>{"*.x.example"}));
  EXPECT_EQ(s.allow->spiffe_id, (std::vector<std::string>{"spiffe://t/x"}));
  EXPECT_TRUE(opts.json);

  verify_options bare;
  ASSERT_TRUE(parse({"--truststore", "ca.pem", "c.pem"}, bare, error));
  EXPECT_FALSE(standalone_service(bare).allow.has_value()) << "no --allow-*: no whitelist";
}

TEST(verify_args, refuses_bad_values_and_mixed_modes) {
  std::string error;
  const std::vector<std::vector<std::string_view>> bad = {
      {"--truststore", "ca.pem", "--crl-stale", "maybe", "c.pem"},
      {"--truststore", "ca.pem", "--verify-depth", "-1", "c.pem"},
      {"--truststore", "ca.pem", "--verify-depth", "2x", "c.pem"},
      {"--truststore", "ca.pem", "--require-client-auth-eku", "yes", "c.pem"},
      {"--truststore", "ca.pem", "--allow-nickname", "x", "c.pem"},
      {"--truststore", "ca.pem", "--at", "tomorrow", "c.pem"},
      {"--truststore", "ca.pem", "a.pem", "b.pem"},
      {"--config", "m.toml", "--service", "s", "--allow-cn", "x", "c.pem"},
      {"--service", "s", "c.pem"},
      {"c.pem"},
      {"--truststore"},
  };
  for (const auto& args : bad) {
    verify_options opts;
    EXPECT_FALSE(parse(args, opts, error)) << args.size() << " " << args[args.size() - 1];
    EXPECT_FALSE(error.empty());
  }
}

TEST(verify_args, times_are_rfc3339_or_unix_seconds) {
  EXPECT_EQ(parse_time("2026-01-02T03:04:05Z"), 1767323045);
  EXPECT_EQ(parse_time("2026-01-02T04:04:05+01:00"), 1767323045);
  EXPECT_EQ(parse_time("2026-01-02T02:34:05.250-00:30"), 1767323045);
  EXPECT_EQ(parse_time("@1767323045"), 1767323045);
  EXPECT_EQ(parse_time("@-5"), -5);
  EXPECT_FALSE(parse_time("2026-01-02T03:04:05"));  // no offset: ambiguous
  EXPECT_FALSE(parse_time("2026-01-02"));
  EXPECT_FALSE(parse_time("@"));
  EXPECT_FALSE(parse_time("@12x"));
}

TEST(verify_report, prints_one_line_per_check_then_the_daemons_verdict_words) {
  tls::offline_verdict v;
  v.checks = {{tls::check_status::ok, "path", "CN=a -> CN=Root (trust anchor, in truststore)"},
              {tls::check_status::fail, "validity", "CN=a not_after=2026-01-01T00:00:00Z is before 2026-02-01T00:00:00Z"}};
  v.reason = rejection_reason::expired;
  v.detail = "subject=\"CN=a\" issuer=\"CN=Root\": certificate has expired";
  std::ostringstream text;
  print_text(text, v);
  EXPECT_EQ(text.str(),
            "ok    path: CN=a -> CN=Root (trust anchor, in truststore)\n"
            "FAIL  validity: CN=a not_after=2026-01-01T00:00:00Z is before 2026-02-01T00:00:00Z\n"
            "REJECT reason=expired detail=\"subject=\\\"CN=a\\\" issuer=\\\"CN=Root\\\": certificate has expired\"\n");

  tls::offline_verdict accepted;
  accepted.accepted = true;
  accepted.detail = "cn=\"partner-a\"";
  EXPECT_EQ(verdict_line(accepted), "ACCEPT (matched cn=\"partner-a\")");
  accepted.detail = "any";
  EXPECT_EQ(verdict_line(accepted), "ACCEPT (no whitelist)");

  std::ostringstream json;
  print_json(json, v);
  EXPECT_EQ(json.str(),
            "{\"verdict\":\"REJECT\",\"reason\":\"expired\",\"detail\":\"subject=\\\"CN=a\\\" issuer=\\\"CN=Root\\\": "
            "certificate has expired\",\"checks\":[{\"status\":\"ok\",\"check\":\"path\",\"text\":\"CN=a -> CN=Root "
            "(trust anchor, in truststore)\"},{\"status\":\"FAIL\",\"check\":\"validity\",\"text\":\"CN=a "
            "not_after=2026-01-01T00:00:00Z is before 2026-02-01T00:00:00Z\"}]}\n");
}

}  // namespace
}  // namespace mtlsd::cli
