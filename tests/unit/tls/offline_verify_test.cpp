// tls::verify_offline with a verification-only context: the verdict comes
// from the handshake's verify path, the check lines explain it.

#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>

#include "mtlsd/tls/offline_verify.hpp"
#include "mtlsd/tls/server_context.hpp"
#include "pki.hpp"

namespace mtlsd::tls {
namespace {

using namespace std::chrono_literals;

struct fixture {
  test::temp_dir dir;
  test::issued ca = [] {
    test::cert_spec spec;
    spec.is_ca = true;
    spec.cn = {"Offline Root"};
    return test::make_self_signed(spec);
  }();

  std::shared_ptr<const server_context> context(std::optional<allow_rules> allow = std::nullopt) {
    test::write_file(dir / "ca.pem", ca.cert_pem());
    service_config s;
    s.name = "verify";
    s.key_path_prefix = "verify";
    s.truststore = dir / "ca.pem";
    s.allow = std::move(allow);
    config_errors errors;
    std::vector<std::string> warnings;
    auto built = server_context::build_verifier(s, errors, warnings);
    EXPECT_TRUE(errors.empty()) << errors.front().message;
    return built;
  }
};

bool has_line(const offline_verdict& v, check_status status, const std::string& name, const std::string& part) {
  return std::any_of(v.checks.begin(), v.checks.end(), [&](const explained_check& c) {
    return c.status == status && c.name == name && c.text.find(part) != std::string::npos;
  });
}

TEST(offline_verify, a_verifier_needs_no_server_certificate_and_accepts_a_good_chain) {
  fixture f;
  test::cert_spec spec;
  spec.cn = {"partner-a"};
  const auto leaf = test::issue(spec, f.ca);
  allow_rules rules;
  rules.cn = {"partner-a"};
  const auto ctx = f.context(rules);
  ASSERT_TRUE(ctx);
  const auto v = verify_offline(*ctx, {leaf.cert.get()}, std::nullopt);
  EXPECT_TRUE(v.accepted) << v.detail;
  EXPECT_EQ(v.detail, "cn=\"partner-a\"");
  EXPECT_TRUE(has_line(v, check_status::ok, "path", "CN=partner-a -> CN=Offline Root (trust anchor, in truststore)"));
  EXPECT_TRUE(has_line(v, check_status::ok, "whitelist", "matched cn=\"partner-a\""));
}

TEST(offline_verify, at_moves_the_clock_for_the_verdict_and_the_lines) {
  fixture f;
  test::cert_spec spec;
  spec.cn = {"partner-a"};
  const auto leaf = test::issue(spec, f.ca);  // valid for a day from an hour ago
  const auto ctx = f.context();
  const std::int64_t later = static_cast<std::int64_t>(std::time(nullptr)) + 3 * 86400;
  const auto v = verify_offline(*ctx, {leaf.cert.get()}, later);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(v.reason, rejection_reason::expired);
  EXPECT_NE(v.detail.find("certificate has expired"), std::string::npos) << v.detail;
  EXPECT_TRUE(has_line(v, check_status::fail, "validity", "CN=partner-a not_after="));
}

TEST(offline_verify, an_unknown_issuer_fails_the_path_line_and_the_verdict) {
  fixture f;
  test::cert_spec other_spec;
  other_spec.is_ca = true;
  other_spec.cn = {"Elsewhere"};
  const auto other = test::make_self_signed(other_spec);
  test::cert_spec spec;
  spec.cn = {"partner-a"};
  const auto leaf = test::issue(spec, other);
  const auto v = verify_offline(*f.context(), {leaf.cert.get()}, std::nullopt);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(v.reason, rejection_reason::unknown_ca);
  EXPECT_TRUE(has_line(v, check_status::fail, "path", "unable to get local issuer certificate"));
}

}  // namespace
}  // namespace mtlsd::tls
