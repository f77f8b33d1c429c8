// Identity policy through the real binary: SPIFFE rules in [service.allow]
// and the X.509-SVID rules they bring, and the chain policy enforced during
// verification — key strength (weak_key), the clientAuth EKU (bad_eku,
// require_client_auth_eku) and name constraints (name_constraints). Each
// refusal is checked by its reason and by the detail ops read in the log.

#include <string>
#include <vector>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

class identity : public mtlsd_test {
 protected:
  // A single-service config in front of an echo backend with `allow` lines.
  mtlsd_daemon& start_with(const std::vector<std::string>& allow, std::vector<std::string> lines = {}) {
    auto svc = service(backend_.connect_url(), "require", std::move(lines));
    svc.allow = allow;
    config_spec config;
    config.services.push_back(svc);
    return start(config);
  }

  // A client certificate shaped like an X.509-SVID: no subject, one URI SAN.
  static cert_spec svid_spec(const std::string& spiffe_id) {
    cert_spec spec;
    spec.o = {"SPIRE"};
    spec.uri = {spiffe_id};
    return spec;
  }

  // Connects over TLS 1.2, where the server's alert ends the handshake
  // itself; returns that alert ("" when admitted).
  std::string refused_alert(const issued& leaf, std::vector<const issued*> chain = {},
                            const std::string& svc = "svc") {
    auto options = client_options(client_identity::of(leaf, std::move(chain)));
    options.max_version = TLS1_2_VERSION;
    options.security_level = 0;  // the client must be able to present weak keys
    tls_client client(options);
    auto hs = client.connect(loopback, port(svc));
    EXPECT_FALSE(hs.ok) << "a client that must be refused completed the handshake";
    return hs.alert_received;
  }

  // The handshake_failed line for a refusal; checks reason and detail parts.
  log_line expect_refusal(const std::string& reason, const std::vector<std::string>& detail_parts) {
    const log_line line = daemon().wait_event("handshake_failed");
    EXPECT_EQ(line.get("reason"), reason) << line.get("detail");
    for (const auto& part : detail_parts) {
      EXPECT_NE(line.get("detail").find(part), std::string::npos) << "detail lacks \"" << part
                                                                  << "\": " << line.get("detail");
    }
    return line;
  }

  loopback_server backend_{echo_handler()};
};

TEST_F(identity, spiffe_trust_domain_admits_its_svids_and_refuses_other_domains) {
  auto& d = start_with({R"(spiffe_trust_domain = ["example.org"])"});
  const auto inside = pki().client(svid_spec("spiffe://example.org/ns/prod/sa/api"));
  EXPECT_TRUE(connect_and_probe(client_identity::of(inside)).admitted);
  EXPECT_EQ(d.wait_event("access").get("verify"), "ok");

  const auto outside = pki().client(svid_spec("spiffe://other.org/ns/prod/sa/api"));
  EXPECT_FALSE(connect_and_probe(client_identity::of(outside)).admitted);
  expect_refusal("not_whitelisted",
                 {"no allow rule matched", "spiffe_id=\"spiffe://other.org/ns/prod/sa/api\"",
                  "spiffe_trust_domain=\"other.org\""});
}

TEST_F(identity, spiffe_id_rules_admit_exact_ids_and_prefixes_only) {
  auto& d = start_with(
      {R"(spiffe_id = ["spiffe://example.org/ns/prod/sa/api", "spiffe://example.org/ns/stage/*"])"});
  for (const char* admitted : {"spiffe://example.org/ns/prod/sa/api", "spiffe://example.org/ns/stage/sa/web"}) {
    const auto leaf = pki().client(svid_spec(admitted));
    EXPECT_TRUE(connect_and_probe(client_identity::of(leaf)).admitted) << admitted;
  }
  d.wait_events("access", {{"verify", "ok"}}, 2);

  const auto sibling = pki().client(svid_spec("spiffe://example.org/ns/prod/sa/api-admin"));
  EXPECT_FALSE(connect_and_probe(client_identity::of(sibling)).admitted);
  expect_refusal("not_whitelisted", {"spiffe_id=\"spiffe://example.org/ns/prod/sa/api-admin\""});
}

TEST_F(identity, a_leaf_with_two_uri_sans_is_not_an_svid) {
  start_with({R"(spiffe_trust_domain = ["example.org"])"});
  cert_spec spec = svid_spec("spiffe://example.org/ns/prod/sa/api");
  spec.uri.push_back("spiffe://example.org/ns/prod/sa/admin");
  const auto leaf = pki().client(spec);
  EXPECT_EQ(refused_alert(leaf), "handshake_failure");
  expect_refusal("invalid_svid",
                 {"not a valid X.509-SVID", "expected exactly one URI SAN, found 2",
                  "spiffe://example.org/ns/prod/sa/admin"});
}

TEST_F(identity, a_ca_certificate_used_as_leaf_is_not_an_svid) {
  start_with({R"(spiffe_trust_domain = ["example.org"])"});
  cert_spec spec = svid_spec("spiffe://example.org/ns/prod/sa/api");
  // Everything else in order (clientAuth, digitalSignature), so that only
  // the SVID rule can refuse it.
  spec.is_ca = true;
  spec.eku_on_ca = true;
  spec.key_usage = std::vector<key_usage_kind>{key_usage_kind::digital_signature, key_usage_kind::key_cert_sign};
  const auto leaf = pki().client(spec);
  EXPECT_EQ(refused_alert(leaf), "handshake_failure");
  expect_refusal("invalid_svid", {"basicConstraints has cA=TRUE"});
}

TEST_F(identity, without_spiffe_rules_an_svid_is_judged_by_the_other_fields_only) {
  auto& d = start_with({R"(uri = ["spiffe://example.org/ns/prod/*"])"});
  cert_spec spec = svid_spec("spiffe://example.org/ns/prod/sa/api");
  spec.uri.push_back("https://example.org/extra");
  EXPECT_TRUE(connect_and_probe(client_identity::of(pki().client(spec))).admitted);
  EXPECT_EQ(d.wait_event("access").get("verify"), "ok");
}

TEST_F(identity, an_rsa_1024_leaf_is_a_weak_key) {
  start_with({});
  cert_spec spec;
  spec.cn = {"weak-leaf"};
  spec.key = key_kind::rsa1024;
  const auto leaf = pki().client(spec);
  EXPECT_EQ(refused_alert(leaf), "bad_certificate");
  expect_refusal("weak_key",
                 {"subject=\"CN=weak-leaf\"", "leaf key is RSA 1024 bits, below the minimum of 2048 bits for RSA"});
}

TEST_F(identity, a_weak_intermediate_is_a_weak_key_whether_or_not_openssl_objects) {
  start_with({});
  // P-224 passes OpenSSL's security level 2 (112 bits); RSA-1024 does not.
  // Both must be refused, and named the same way.
  struct weak_ca {
    key_kind key;
    std::string name;
    std::string detail;
  };
  const weak_ca cases[] = {
      {key_kind::ec_p224, "P-224 Intermediate",
       "intermediate CA key is EC P-224 (224 bits), below the minimum of 256 bits for EC"},
      {key_kind::rsa1024, "RSA-1024 Intermediate",
       "intermediate CA key is RSA 1024 bits, below the minimum of 2048 bits for RSA"}};
  std::size_t refused = 0;
  for (const weak_ca& weak : cases) {
    cert_spec ca;
    ca.is_ca = true;
    ca.cn = {weak.name};
    ca.key = weak.key;
    const issued intermediate = issue(ca, pki().client_ca);
    cert_spec spec;
    spec.cn = {"behind-" + weak.name};
    const issued leaf = issue(spec, intermediate);
    EXPECT_EQ(refused_alert(leaf, {&intermediate}), "bad_certificate") << weak.name;
    ++refused;
    const log_line line = daemon().wait_events("handshake_failed", {{"reason", "weak_key"}}, refused).back();
    EXPECT_NE(line.get("detail").find("subject=\"CN=" + weak.name + "\""), std::string::npos) << line.get("detail");
    EXPECT_NE(line.get("detail").find(weak.detail), std::string::npos) << line.get("detail");
    // The access line still names the client that was refused.
    const log_line access = daemon().wait_event("access", {{"reason", "weak_key"}, {"subject", "CN=" + spec.cn[0]}});
    EXPECT_EQ(access.get("close"), "handshake_failed");
  }
}

TEST_F(identity, a_leaf_without_eku_is_bad_eku_unless_the_service_opts_out) {
  auto strict = service(backend_.connect_url());
  strict.name = "strict";
  auto relaxed = service(backend_.connect_url(), "require", {"require_client_auth_eku = false"});
  relaxed.name = "relaxed";
  config_spec config;
  config.services = {strict, relaxed};
  auto& d = start(config);

  cert_spec spec;
  spec.cn = {"no-eku"};
  spec.eku = eku_kind::none;
  const auto leaf = pki().client(spec);
  EXPECT_EQ(refused_alert(leaf, {}, "strict"), "unsupported_certificate");
  const log_line line = d.wait_event("handshake_failed", {{"svc", "strict"}});
  EXPECT_EQ(line.get("reason"), "bad_eku");
  EXPECT_NE(line.get("detail").find("leaf has no extendedKeyUsage extension"), std::string::npos) << line.get("detail");
  EXPECT_NE(line.get("detail").find("require_client_auth_eku = false"), std::string::npos) << line.get("detail");

  EXPECT_TRUE(connect_and_probe(client_identity::of(leaf), "relaxed").admitted);
  EXPECT_EQ(d.wait_event("access", {{"svc", "relaxed"}}).get("verify"), "ok");

  // A present EKU still needs clientAuth, opt-out or not.
  spec.eku = eku_kind::server_auth;
  EXPECT_FALSE(connect_and_probe(client_identity::of(pki().client(spec)), "relaxed").admitted);
  EXPECT_EQ(d.wait_event("handshake_failed", {{"svc", "relaxed"}}).get("reason"), "bad_eku");
}

class name_constraint : public identity {
 protected:
  // An intermediate under the client CA that may only issue for
  // *.partner.example and never for 10.9.0.0/16.
  const issued& partner_ca() {
    if (!partner_ca_) {
      cert_spec ca;
      ca.is_ca = true;
      ca.cn = {"Partner CA"};
      ca.permitted_names = {"dns:.partner.example"};
      ca.excluded_names = {"ip:10.9.0.0/16"};
      partner_ca_ = std::make_unique<issued>(issue(ca, pki().client_ca));
    }
    return *partner_ca_;
  }
  issued partner_leaf(const std::string& cn, std::vector<std::string> dns, std::vector<std::string> ip = {}) {
    cert_spec spec;
    spec.cn = {cn};
    spec.dns = std::move(dns);
    spec.ip = std::move(ip);
    return issue(spec, partner_ca());
  }
  std::unique_ptr<issued> partner_ca_;
};

TEST_F(name_constraint, a_leaf_inside_the_permitted_subtree_is_admitted) {
  auto& d = start_with({});
  const auto leaf = partner_leaf("api", {"api.partner.example"}, {"10.1.2.3"});
  EXPECT_TRUE(connect_and_probe(client_identity::of(leaf, {&partner_ca()})).admitted);
  EXPECT_EQ(d.wait_event("access").get("verify"), "ok");
}

TEST_F(name_constraint, a_dns_name_outside_is_refused_naming_the_ca_and_the_name) {
  start_with({});
  const auto leaf = partner_leaf("api", {"api.partner.example", "api.other.example"});
  EXPECT_EQ(refused_alert(leaf, {&partner_ca()}), "certificate_unknown");
  expect_refusal("name_constraints",
                 {"subject=\"CN=api\"",
                  "DNS name \"api.other.example\" is outside the permitted subtrees of CA \"CN=Partner CA\" "
                  "(permitted: DNS:.partner.example)"});
}

TEST_F(name_constraint, an_address_in_the_excluded_range_is_refused) {
  start_with({});
  const auto leaf = partner_leaf("api", {"api.partner.example"}, {"10.9.8.7"});
  EXPECT_FALSE(connect_and_probe(client_identity::of(leaf, {&partner_ca()})).admitted);
  expect_refusal("name_constraints", {"IP address 10.9.8.7 is inside an excluded subtree of CA \"CN=Partner CA\" "
                                      "(excluded: IP:10.9.0.0/16)"});
}

TEST_F(name_constraint, a_violation_is_reported_as_such_even_when_the_whitelist_would_refuse_too) {
  // OpenSSL itself checks name constraints only after the whitelist has run.
  start_with({R"(cn = ["somebody-else"])"});
  const auto leaf = partner_leaf("api", {"api.other.example"});
  EXPECT_FALSE(connect_and_probe(client_identity::of(leaf, {&partner_ca()})).admitted);
  expect_refusal("name_constraints", {"\"api.other.example\" is outside the permitted subtrees"});
}

}  // namespace
}  // namespace mtlsd::test
