// verify_client mode x what the client presents -> admitted or refused (and why).
// Every refusal is followed by a good client, proving the daemon keeps serving.

#include <ostream>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

enum class presented {
  valid,
  none,
  untrusted_ca,       // chains to a CA the truststore does not hold
  expired,
  not_yet_valid,
  self_signed,
  server_ca_issued,   // issued by the server's CA, not the client CA
  with_intermediate,  // leaf + intermediate sent; truststore holds only the root
  at_depth_limit,     // verify_depth = 1 and exactly one intermediate
  too_deep,           // verify_depth = 1 and two intermediates
};

std::string name_of(presented p) {
  switch (p) {
    case presented::valid: return "valid";
    case presented::none: return "no_cert";
    case presented::untrusted_ca: return "untrusted_ca";
    case presented::expired: return "expired";
    case presented::not_yet_valid: return "not_yet_valid";
    case presented::self_signed: return "self_signed";
    case presented::server_ca_issued: return "server_ca_issued";
    case presented::with_intermediate: return "with_intermediate";
    case presented::at_depth_limit: return "at_depth_limit";
    case presented::too_deep: return "too_deep";
  }
  return "?";
}

// A client certificate of the given kind, with the objects kept alive.
struct client_material {
  std::vector<issued> certs;  // leaf first, then the chain it sends, then helpers
  std::optional<client_identity> identity;
  std::string leaf_cn;
};

client_material make_client(test_pki& pki, presented kind) {
  client_material m;
  cert_spec leaf;
  leaf.cn = {"client-" + name_of(kind)};
  m.leaf_cn = leaf.cn[0];
  cert_spec ca;
  ca.is_ca = true;
  switch (kind) {
    case presented::none:
      return m;
    case presented::valid:
      m.certs.push_back(issue(leaf, pki.client_ca));
      break;
    case presented::untrusted_ca: {
      ca.cn = {"some other CA"};
      auto other = make_self_signed(ca);
      m.certs.push_back(issue(leaf, other));
      m.certs.push_back(std::move(other));
      break;
    }
    case presented::expired:
      leaf.not_before = -std::chrono::hours(48);
      leaf.not_after = -std::chrono::hours(24);
      m.certs.push_back(issue(leaf, pki.client_ca));
      break;
    case presented::not_yet_valid:
      leaf.not_before = std::chrono::hours(24);
      leaf.not_after = std::chrono::hours(48);
      m.certs.push_back(issue(leaf, pki.client_ca));
      break;
    case presented::self_signed:
      m.certs.push_back(make_self_signed(leaf));
      break;
    case presented::server_ca_issued:
      m.certs.push_back(issue(leaf, pki.server_ca));
      break;
    case presented::with_intermediate:
    case presented::at_depth_limit: {
      ca.cn = {"client intermediate"};
      auto intermediate = issue(ca, pki.client_ca);
      m.certs.push_back(issue(leaf, intermediate));
      m.certs.push_back(std::move(intermediate));
      break;
    }
    case presented::too_deep: {
      ca.cn = {"client intermediate 1"};
      auto first = issue(ca, pki.client_ca);
      ca.cn = {"client intermediate 2"};
      auto second = issue(ca, first);
      m.certs.push_back(issue(leaf, second));
      m.certs.push_back(std::move(second));
      m.certs.push_back(std::move(first));
      break;
    }
  }
  std::vector<const issued*> chain;
  for (std::size_t i = 1; i < m.certs.size(); ++i) {
    // Only CAs under the client CA are sent as chain (not the untrusted root).
    if (kind == presented::with_intermediate || kind == presented::at_depth_limit || kind == presented::too_deep) {
      chain.push_back(&m.certs[i]);
    }
  }
  m.identity = client_identity::of(m.certs[0], chain);
  return m;
}

struct matrix_case {
  std::string mode;
  presented kind;
  std::string expect;  // "ok" / "anonymous" / "none" (the access line's verify=), else the rejection reason
};

void PrintTo(const matrix_case& c, std::ostream* os) { *os << c.mode << "_" << name_of(c.kind); }

bool admitted(const matrix_case& c) { return c.expect == "ok" || c.expect == "anonymous" || c.expect == "none"; }

std::vector<matrix_case> matrix() {
  std::vector<matrix_case> cases;
  const presented all[] = {presented::valid,         presented::none,          presented::untrusted_ca,
                           presented::expired,       presented::not_yet_valid, presented::self_signed,
                           presented::server_ca_issued, presented::with_intermediate, presented::at_depth_limit,
                           presented::too_deep};
  auto refusal = [](presented p) -> std::string {
    switch (p) {
      case presented::untrusted_ca:
      case presented::self_signed:
      case presented::server_ca_issued: return "unknown_ca";
      case presented::expired: return "expired";
      case presented::not_yet_valid: return "not_yet_valid";
      case presented::too_deep: return "depth_exceeded";
      default: return "ok";
    }
  };
  for (auto p : all) {
    // none: no CertificateRequest, so nothing is presented and nothing checked.
    cases.push_back({"none", p, "none"});
    cases.push_back({"want", p, p == presented::none ? "anonymous" : refusal(p)});
    cases.push_back({"require", p, p == presented::none ? "no_certificate" : refusal(p)});
  }
  return cases;
}

class handshake_matrix : public mtlsd_test, public ::testing::WithParamInterface<matrix_case> {};

TEST_P(handshake_matrix, admits_or_refuses_with_reason) {
  const auto& c = GetParam();
  loopback_server backend(echo_handler());
  std::vector<std::string> lines;
  if (c.kind == presented::too_deep || c.kind == presented::at_depth_limit) lines.push_back("verify_depth = 1");
  config_spec config;
  config.services.push_back(service(backend.connect_url(), c.mode, lines));
  auto& d = start(config);

  auto material = make_client(pki(), c.kind);
  auto result = connect_and_probe(material.identity);

  if (admitted(c)) {
    EXPECT_TRUE(result.admitted) << "error: " << result.error << " alert: " << result.alert_received;
    auto access = d.wait_event("access", {{"svc", "svc"}});
    EXPECT_EQ(access.get("verify"), c.expect);
    if (c.expect == "ok") {
      EXPECT_NE(access.get("subject").find(material.leaf_cn), std::string::npos) << access.get("subject");
    }
    return;
  }

  EXPECT_FALSE(result.admitted);
  auto failed = d.wait_event("handshake_failed", {{"svc", "svc"}});
  EXPECT_EQ(failed.get("reason"), c.expect) << "detail: " << failed.get("detail");
  EXPECT_FALSE(failed.get("detail").empty());
  if (c.expect == "expired" || c.expect == "not_yet_valid" || c.expect == "unknown_ca") {
    // The operator must be able to tell which certificate was refused.
    EXPECT_NE(failed.get("detail").find(material.leaf_cn), std::string::npos) << failed.get("detail");
  }
  auto access = d.wait_event("access", {{"svc", "svc"}, {"close", "handshake_failed"}});
  EXPECT_EQ(access.get("reason"), c.expect);

  // Still serving: a good client gets through right after the refusal.
  auto good = make_client(pki(), presented::valid);
  auto again = connect_and_probe(good.identity);
  EXPECT_TRUE(again.admitted) << again.error;
}

INSTANTIATE_TEST_SUITE_P(modes, handshake_matrix, ::testing::ValuesIn(matrix()),
                         [](const ::testing::TestParamInfo<matrix_case>& p) {
                           return p.param.mode + "_" + name_of(p.param.kind);
                         });

// The alert a refused client receives, per TLS version. With TLS 1.2 it ends
// the handshake; with TLS 1.3 the client has finished its side already and
// reads the alert on its first read.
struct alert_case {
  std::string name;
  presented kind;
  int version;
  std::string alert;
};

void PrintTo(const alert_case& c, std::ostream* os) { *os << c.name; }

class refusal_alert : public mtlsd_test, public ::testing::WithParamInterface<alert_case> {};

TEST_P(refusal_alert, client_receives_the_documented_alert) {
  const auto& c = GetParam();
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url(), "require"));
  start(config);

  auto material = make_client(pki(), c.kind);
  auto options = client_options(material.identity);
  options.min_version = c.version;
  options.max_version = c.version;
  tls_client client(options);
  auto hs = client.connect(loopback, port());
  std::string alert = hs.alert_received;
  if (hs.ok) {
    ASSERT_EQ(c.version, TLS1_3_VERSION) << "a TLS 1.2 handshake must fail outright";
    auto probe = client.probe();
    EXPECT_FALSE(probe.admitted);
    alert = probe.alert_received;
  }
  EXPECT_EQ(alert, c.alert) << "handshake error: " << hs.error;
}

INSTANTIATE_TEST_SUITE_P(
    versions, refusal_alert,
    ::testing::Values(alert_case{"tls13_no_cert", presented::none, TLS1_3_VERSION, "certificate_required"},
                      alert_case{"tls12_no_cert", presented::none, TLS1_2_VERSION, "handshake_failure"},
                      alert_case{"tls13_unknown_ca", presented::untrusted_ca, TLS1_3_VERSION, "unknown_ca"},
                      alert_case{"tls12_unknown_ca", presented::untrusted_ca, TLS1_2_VERSION, "unknown_ca"},
                      alert_case{"tls13_expired", presented::expired, TLS1_3_VERSION, "certificate_expired"},
                      alert_case{"tls12_expired", presented::expired, TLS1_2_VERSION, "certificate_expired"},
                      alert_case{"tls13_not_yet_valid", presented::not_yet_valid, TLS1_3_VERSION, "bad_certificate"},
                      alert_case{"tls12_not_yet_valid", presented::not_yet_valid, TLS1_2_VERSION,
                                 "bad_certificate"}),
    [](const ::testing::TestParamInfo<alert_case>& p) { return p.param.name; });

TEST_F(mtlsd_test, tls12_client_is_admitted_by_default) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);
  auto material = make_client(pki(), presented::valid);
  auto result = connect_and_probe(material.identity, "svc", TLS1_2_VERSION);
  EXPECT_TRUE(result.admitted) << result.error;
  EXPECT_EQ(result.version, "TLSv1.2");
  EXPECT_EQ(d.wait_event("access", {{"svc", "svc"}}).get("tls_version"), "TLSv1.2");
}

TEST_F(mtlsd_test, min_tls_version_13_refuses_tls12_client_with_protocol_version) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url(), "require", {R"(min_tls_version = "1.3")"}));
  auto& d = start(config);
  auto material = make_client(pki(), presented::valid);

  auto options = client_options(material.identity);
  options.max_version = TLS1_2_VERSION;
  tls_client client(options);
  auto hs = client.connect(loopback, port());
  EXPECT_FALSE(hs.ok);
  EXPECT_EQ(hs.alert_received, "protocol_version") << hs.error;
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "protocol_version");

  auto again = connect_and_probe(material.identity);
  EXPECT_TRUE(again.admitted) << again.error;
  EXPECT_EQ(again.version, "TLSv1.3");
}

TEST_F(mtlsd_test, tls10_and_tls11_are_never_offered) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url(), "none"));
  auto& d = start(config);
  // Our OpenSSL's default security level refuses TLS 1.0/1.1 on the client side
  // too; level 0 makes the client genuinely offer them.
  for (int version : {TLS1_VERSION, TLS1_1_VERSION}) {
    auto options = client_options();
    options.min_version = version;
    options.max_version = version;
    options.cipher_list = "DEFAULT:@SECLEVEL=0";
    tls_client client(options);
    auto hs = client.connect(loopback, port());
    EXPECT_FALSE(hs.ok) << "version " << version << " was accepted";
  }
  // Refused by mtlsd for the version (not by our client before sending anything).
  for (const auto& failed : d.wait_events("handshake_failed", {}, 2)) {
    EXPECT_EQ(failed.get("reason"), "protocol_version") << failed.get("detail");
  }
}

}  // namespace
}  // namespace mtlsd::test
