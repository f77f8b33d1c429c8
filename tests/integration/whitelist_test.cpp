// [service.allow]: every field, a hit and a miss, through the real handshake.
// A miss is refused inside the handshake with reason=not_whitelisted and the
// identity that was compared in the log detail.

#include <algorithm>
#include <cctype>
#include <functional>
#include <ostream>

#include <csignal>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

// Colon-separated, alternating case: the way people paste fingerprints.
std::string messy_pin(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); ++i) {
    if (i && i % 2 == 0) out += ':';
    const char c = hex[i];
    out += (i % 4 < 2) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
  }
  return out;
}

std::string normalised(std::string text) {
  text.erase(std::remove(text.begin(), text.end(), ':'), text.end());
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

struct whitelist_case {
  std::string name;
  std::vector<std::string> allow;  // [service.allow] lines; "{PIN}" is replaced by the client's pin
  std::function<void(cert_spec&)> shape;
  bool admitted;
  std::string detail_has;  // for refusals: what the detail must mention
};

void PrintTo(const whitelist_case& c, std::ostream* os) { *os << c.name; }

std::vector<whitelist_case> cases() {
  auto cn = [](std::vector<std::string> v) { return [v](cert_spec& s) { s.cn = v; }; };
  auto ou = [](std::string v) { return [v](cert_spec& s) { s.ou = {v}; }; };
  auto o = [](std::string v) { return [v](cert_spec& s) { s.o = {v}; }; };
  auto dns = [](std::string v) { return [v](cert_spec& s) { s.dns = {v}; }; };
  auto uri = [](std::string v) { return [v](cert_spec& s) { s.uri = {v}; }; };
  auto ip = [](std::string v) { return [v](cert_spec& s) { s.ip = {v}; }; };
  auto email = [](std::string v) { return [v](cert_spec& s) { s.email = {v}; }; };
  const std::vector<std::string> cn_rule = {R"(cn = ["partner-a"])"};
  const std::vector<std::string> dns_rule = {R"(dns = ["*.partner.example"])"};
  const std::vector<std::string> uri_rule = {R"(uri = ["spiffe://example.org/partner/*"])"};
  return {
      {"cn_hit", cn_rule, cn({"partner-a"}), true, ""},
      {"cn_miss", cn_rule, cn({"partner-b"}), false, "partner-b"},
      {"cn_is_case_sensitive", cn_rule, cn({"Partner-A"}), false, "Partner-A"},
      {"cn_multiple_cns_never_match", cn_rule, cn({"partner-a", "partner-a"}), false, ""},
      {"cn_with_embedded_nul_never_matches", cn_rule, cn({std::string("partner-a\0.evil", 15)}), false, ""},
      {"ou_hit", {R"(ou = ["payments"])"}, ou("payments"), true, ""},
      {"ou_miss", {R"(ou = ["payments"])"}, ou("billing"), false, "billing"},
      {"o_hit", {R"(o = ["Partner Inc"])"}, o("Partner Inc"), true, ""},
      {"o_miss", {R"(o = ["Partner Inc"])"}, o("Other Inc"), false, "Other Inc"},
      {"dns_exact_hit", {R"(dns = ["api.partner.example"])"}, dns("api.partner.example"), true, ""},
      {"dns_is_case_insensitive", {R"(dns = ["api.partner.example"])"}, dns("API.Partner.Example"), true, ""},
      {"dns_miss", {R"(dns = ["api.partner.example"])"}, dns("api.other.example"), false, "api.other.example"},
      {"dns_wildcard_hit", dns_rule, dns("api.partner.example"), true, ""},
      {"dns_wildcard_matches_one_label_only", dns_rule, dns("a.b.partner.example"), false, "a.b.partner.example"},
      {"dns_wildcard_does_not_match_apex", dns_rule, dns("partner.example"), false, "partner.example"},
      {"uri_exact_hit", {R"(uri = ["spiffe://example.org/partner/a"])"}, uri("spiffe://example.org/partner/a"), true,
       ""},
      {"uri_exact_miss", {R"(uri = ["spiffe://example.org/partner/a"])"}, uri("spiffe://example.org/partner/ab"),
       false, "spiffe://example.org/partner/ab"},
      {"uri_prefix_hit", uri_rule, uri("spiffe://example.org/partner/billing"), true, ""},
      {"uri_prefix_miss", uri_rule, uri("spiffe://example.org/other/billing"), false,
       "spiffe://example.org/other/billing"},
      {"uri_prefix_stops_at_path_segment", uri_rule, uri("spiffe://example.org/partnerx/a"), false,
       "spiffe://example.org/partnerx/a"},
      {"ip_hit", {R"(ip = ["10.1.2.3"])"}, ip("10.1.2.3"), true, ""},
      {"ip_miss", {R"(ip = ["10.1.2.3"])"}, ip("10.1.2.4"), false, "10.1.2.4"},
      {"email_hit", {R"(email = ["ops@partner.example"])"}, email("ops@partner.example"), true, ""},
      {"email_miss", {R"(email = ["ops@partner.example"])"}, email("dev@partner.example"), false,
       "dev@partner.example"},
      {"sha256_pin_with_colons_and_mixed_case_hit", {R"(sha256 = ["{PIN}"])"}, cn({"pinned"}), true, ""},
      {"sha256_pin_miss", {R"(sha256 = ["{OTHER_PIN}"])"}, cn({"not-pinned"}), false, "{SELF_PIN}"},
      {"any_entry_of_any_field_admits", {R"(cn = ["nobody"])", R"(dns = ["api.partner.example"])"},
       [](cert_spec& s) {
         s.cn = {"somebody"};
         s.dns = {"api.partner.example"};
       },
       true, ""},
  };
}

class whitelist : public mtlsd_test, public ::testing::WithParamInterface<whitelist_case> {};

TEST_P(whitelist, admits_hits_and_refuses_misses) {
  const auto& c = GetParam();
  cert_spec spec;
  c.shape(spec);
  auto leaf = pki().client(spec);
  auto other = pki().client();

  std::vector<std::string> allow;
  for (auto line : c.allow) {
    for (const auto& [token, value] :
         {std::pair<std::string, std::string>{"{PIN}", messy_pin(leaf.sha256_hex())},
          std::pair<std::string, std::string>{"{OTHER_PIN}", messy_pin(other.sha256_hex())}}) {
      if (auto at = line.find(token); at != std::string::npos) line.replace(at, token.size(), value);
    }
    allow.push_back(line);
  }

  loopback_server backend(echo_handler());
  auto svc = service(backend.connect_url());
  svc.allow = allow;
  config_spec config;
  config.services.push_back(svc);
  auto& d = start(config);

  auto result = connect_and_probe(client_identity::of(leaf));
  if (c.admitted) {
    EXPECT_TRUE(result.admitted) << result.error << " alert: " << result.alert_received;
    EXPECT_EQ(d.wait_event("access").get("verify"), "ok");
    return;
  }
  EXPECT_FALSE(result.admitted);
  auto failed = d.wait_event("handshake_failed");
  EXPECT_EQ(failed.get("reason"), "not_whitelisted");
  const std::string detail = failed.get("detail");
  if (c.detail_has == "{SELF_PIN}") {
    EXPECT_NE(normalised(detail).find(leaf.sha256_hex()), std::string::npos) << detail;
  } else if (!c.detail_has.empty()) {
    EXPECT_NE(detail.find(c.detail_has), std::string::npos) << detail;
  }

  // A whitelisted client still gets in on the same listener.
  if (c.name.rfind("cn_", 0) == 0) {
    cert_spec good;
    good.cn = {"partner-a"};
    auto ok_leaf = pki().client(good);
    EXPECT_TRUE(connect_and_probe(client_identity::of(ok_leaf)).admitted);
  }
}

INSTANTIATE_TEST_SUITE_P(fields, whitelist, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<whitelist_case>& p) { return p.param.name; });

TEST_F(mtlsd_test, client_cert_with_server_auth_only_eku_is_refused_as_bad_eku) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);
  cert_spec spec;
  spec.cn = {"server-auth-only"};
  spec.eku = eku_kind::server_auth;
  auto leaf = pki().client(spec);

  auto options = client_options(client_identity::of(leaf));
  options.max_version = TLS1_2_VERSION;  // the alert then ends the handshake, deterministically
  tls_client client(options);
  auto hs = client.connect(loopback, port());
  EXPECT_FALSE(hs.ok);
  EXPECT_EQ(hs.alert_received, "unsupported_certificate") << hs.error;
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "bad_eku");
}

TEST_F(mtlsd_test, client_cert_with_server_auth_only_eku_is_refused_over_tls13) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);
  cert_spec spec;
  spec.eku = eku_kind::server_auth;
  auto leaf = pki().client(spec);
  EXPECT_FALSE(connect_and_probe(client_identity::of(leaf)).admitted);
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "bad_eku");
}

TEST_F(mtlsd_test, client_cert_without_eku_or_with_both_ekus_is_admitted) {
  // Without the extension only when the service opts out of requiring it
  // (identity_test.cpp has the default, which refuses it as bad_eku).
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url(), "require", {"require_client_auth_eku = false"}));
  start(config);
  for (auto eku : {eku_kind::none, eku_kind::both}) {
    cert_spec spec;
    spec.eku = eku;
    auto leaf = pki().client(spec);
    auto result = connect_and_probe(client_identity::of(leaf));
    EXPECT_TRUE(result.admitted) << static_cast<int>(eku) << ": " << result.error;
  }
}

TEST_F(mtlsd_test, not_whitelisted_client_receives_handshake_failure_alert) {
  loopback_server backend(echo_handler());
  auto svc = service(backend.connect_url());
  svc.allow = {R"(cn = ["partner-a"])"};
  config_spec config;
  config.services.push_back(svc);
  start(config);
  cert_spec spec;
  spec.cn = {"partner-b"};
  auto leaf = pki().client(spec);
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    auto options = client_options(client_identity::of(leaf));
    options.min_version = version;
    options.max_version = version;
    tls_client client(options);
    auto hs = client.connect(loopback, port());
    std::string alert = hs.alert_received;
    if (hs.ok) {
      EXPECT_EQ(version, TLS1_3_VERSION);
      auto probe = client.probe();
      EXPECT_FALSE(probe.admitted);
      alert = probe.alert_received;
    }
    EXPECT_EQ(alert, "handshake_failure") << "version " << version;
  }
}

TEST_F(mtlsd_test, want_mode_still_applies_the_whitelist_to_presented_certs) {
  loopback_server backend(echo_handler());
  auto svc = service(backend.connect_url(), "want");
  svc.allow = {R"(cn = ["partner-a"])"};
  config_spec config;
  config.services.push_back(svc);
  auto& d = start(config);
  cert_spec spec;
  spec.cn = {"partner-b"};
  auto leaf = pki().client(spec);
  EXPECT_FALSE(connect_and_probe(client_identity::of(leaf)).admitted);
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "not_whitelisted");
  // ...while a client without a certificate is admitted anonymously.
  EXPECT_TRUE(connect_and_probe(std::nullopt).admitted);
  EXPECT_EQ(d.wait_event("access", {{"verify", "anonymous"}}).get("svc"), "svc");
}

TEST_F(mtlsd_test, a_returning_client_is_judged_and_logged_like_a_new_one) {
  // Chains that verified are remembered per worker (verified_chain_cache);
  // what a remembered chain skips must not change what ops see or who gets in.
  loopback_server backend(echo_handler());
  auto svc = service(backend.connect_url());
  svc.allow = {R"(cn = ["partner-a"])"};
  config_spec config;
  config.services.push_back(svc);
  auto& d = start(config);
  cert_spec spec;
  spec.cn = {"partner-a"};
  const auto leaf_a = pki().client(spec);
  spec.cn = {"partner-b"};
  const auto leaf_b = pki().client(spec);
  const auto partner_a = client_identity::of(leaf_a);
  const auto partner_b = client_identity::of(leaf_b);

  for (int round = 0; round < 4; ++round) {
    EXPECT_TRUE(connect_and_probe(partner_a).admitted) << "round " << round;
    EXPECT_FALSE(connect_and_probe(partner_b).admitted) << "round " << round;
  }
  d.proc().send_signal(SIGTERM);
  ASSERT_TRUE(d.proc().wait_exit_and_output(30s).has_value());
  const auto admitted = d.events("access", {{"verify", "ok"}});
  ASSERT_EQ(admitted.size(), 4u);
  for (const auto& line : admitted) {
    EXPECT_NE(line.get("subject").find("CN=partner-a"), std::string::npos) << line.get("subject");
    EXPECT_FALSE(line.get("sha256").empty());
  }
  const auto refused = d.events("handshake_failed", {{"reason", "not_whitelisted"}});
  EXPECT_EQ(refused.size(), 4u) << "a refusal was not judged (and explained) afresh";
}

}  // namespace
}  // namespace mtlsd::test
