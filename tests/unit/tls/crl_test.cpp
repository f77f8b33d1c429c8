// CRL files (crl.hpp) and what a service context makes of them: which files
// load, which are configuration errors (with the key and the reason), what
// is only a warning, and the facts `mtlsd check` and the metrics show.

#include "mtlsd/tls/crl.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <string>
#include <vector>

#include "mtlsd/tls/server_context.hpp"
#include "tls_test_support.hpp"

namespace mtlsd::test {
namespace {

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += "\n  " + l;
  return text;
}

bool any_contains(const std::vector<std::string>& lines, const std::vector<std::string>& parts) {
  for (const auto& line : lines) {
    bool all = true;
    for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
    if (all) return true;
  }
  return false;
}

TEST(parse_crls, reads_every_crl_of_a_pem_file_and_a_single_der_crl) {
  const issued ca = make_self_signed(ca_spec("CRL CA"));
  const issued other = make_self_signed(ca_spec("Other CRL CA"));
  const issued leaf = issue(leaf_spec("revoked"), ca);
  crl_spec spec;
  spec.revoked = {{&leaf, -std::chrono::hours(2), 1}};
  const crl_made first = make_crl(spec, ca);
  const crl_made second = make_crl({}, other);

  std::string error;
  auto crls = tls::parse_crls(first.pem() + second.pem(), error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(crls.size(), 2u);
  const auto summary = tls::summarize_crl(crls[0].get(), "a.crl");
  EXPECT_EQ(summary.issuer, "CN=CRL CA,O=mtlsd tests");
  EXPECT_EQ(summary.revoked, 1u);
  EXPECT_EQ(summary.file, "a.crl");
  EXPECT_EQ(tls::summarize_crl(crls[1].get(), "a.crl").issuer, "CN=Other CRL CA,O=mtlsd tests");

  crls = tls::parse_crls(first.der(), error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(crls.size(), 1u);
  EXPECT_EQ(tls::summarize_crl(crls[0].get(), "b.crl").revoked, 1u);
}

TEST(parse_crls, refuses_what_is_not_a_crl) {
  const issued ca = make_self_signed(ca_spec("CRL CA"));
  const std::string der = make_crl({}, ca).der();
  const std::string pem = make_crl({}, ca).pem();
  struct bad_case {
    std::string name, bytes, message;
  };
  std::string broken_pem = pem;
  broken_pem[pem.size() / 2] = '!';  // one corrupted base64 character
  const bad_case cases[] = {
      {"empty", "", "empty file"},
      {"text", "this is not a CRL\n", "neither PEM nor a DER CRL"},
      {"truncated DER", der.substr(0, der.size() - 10), "neither PEM nor a DER CRL"},
      {"DER with trailing bytes", der + "xx", "2 unexpected bytes"},
      {"a certificate", ca.cert_pem(), "holds no PEM CRL"},
      {"corrupted PEM", broken_pem, "malformed PEM CRL"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_TRUE(tls::parse_crls(c.bytes, error).empty()) << c.name;
    EXPECT_NE(error.find(c.message), std::string::npos) << c.name << ": " << error;
  }
}

TEST(crl_facts, next_update_decides_staleness_and_a_crl_without_one_never_goes_stale) {
  const issued ca = make_self_signed(ca_spec("CRL CA"));
  crl_spec spec;
  spec.next_update = std::chrono::hours(1);
  const auto with_next = tls::summarize_crl(make_crl(spec, ca).crl.get(), "x");
  ASSERT_TRUE(with_next.next_update_unix);
  const std::int64_t now = std::time(nullptr);
  EXPECT_FALSE(with_next.stale_at(now));
  EXPECT_TRUE(with_next.stale_at(*with_next.next_update_unix));
  EXPECT_FALSE(with_next.next_update.empty());

  spec.next_update.reset();
  const auto without = tls::summarize_crl(make_crl(spec, ca).crl.get(), "x");
  EXPECT_FALSE(without.next_update_unix);
  EXPECT_EQ(without.next_update, "");
  EXPECT_FALSE(without.stale_at(now + 100LL * 365 * 86400));
}

TEST(crl_facts, reason_codes_have_their_rfc_5280_names) {
  EXPECT_EQ(tls::crl_reason_name(0), "unspecified");
  EXPECT_EQ(tls::crl_reason_name(1), "keyCompromise");
  EXPECT_EQ(tls::crl_reason_name(2), "cACompromise");
  EXPECT_EQ(tls::crl_reason_name(4), "superseded");
  EXPECT_EQ(tls::crl_reason_name(5), "cessationOfOperation");
  EXPECT_EQ(tls::crl_reason_name(9), "privilegeWithdrawn");
  EXPECT_EQ(tls::crl_reason_name(7), "reason 7");  // unused in RFC 5280
}

TEST(crl_facts, an_unknown_critical_extension_is_named) {
  const issued ca = make_self_signed(ca_spec("CRL CA"));
  EXPECT_EQ(tls::unsupported_critical_extension(make_crl({}, ca).crl.get()), "");
  crl_spec spec;
  spec.unknown_critical_extension = true;
  EXPECT_EQ(tls::unsupported_critical_extension(make_crl(spec, ca).crl.get()), "1.3.6.1.4.1.55555.1");
}

// server_context::build with `crl`: the loading rules as a user meets them.
class crl_build : public ::testing::Test {
 protected:
  void SetUp() override {
    service.crl = {pki.dir / "client-ca.crl"};
    service.positions["crl"] = {"mtlsd.toml", 12, 7};
  }

  void write_crl(const std::string& text, const std::string& name = "client-ca.crl") {
    write_file(pki.dir / name, text);
  }

  struct result {
    std::shared_ptr<const tls::server_context> context;
    config_errors errors;
    std::vector<std::string> warnings;
    std::string error_text() const {
      std::string text;
      for (const auto& e : errors) text += "\n  " + e.to_string();
      return text;
    }
  };
  result build() {
    result r;
    r.context = tls::server_context::build(service, r.errors, r.warnings);
    return r;
  }

  server_pki pki;
  service_config service = make_service(pki);
};

TEST_F(crl_build, a_crl_of_the_truststore_ca_loads_and_is_summarised) {
  const issued leaf = issue(leaf_spec("gone"), pki.client_ca);
  crl_spec spec;
  spec.revoked = {{&leaf}};
  write_crl(make_crl(spec, pki.client_ca).pem());
  const auto r = build();
  ASSERT_TRUE(r.context) << r.error_text();
  EXPECT_TRUE(r.warnings.empty()) << joined(r.warnings);
  ASSERT_EQ(r.context->crls().size(), 1u);
  const auto& crl = r.context->crls()[0];
  EXPECT_EQ(crl.issuer, "CN=Test Client CA,O=mtlsd tests");
  EXPECT_EQ(crl.revoked, 1u);
  EXPECT_TRUE(crl.issuer_trusted);
  EXPECT_EQ(crl.file, (pki.dir / "client-ca.crl").string());
  EXPECT_EQ(r.context->crl_stale(), crl_stale_mode::reject);
  EXPECT_FALSE(r.context->recheck_resumed(std::time(nullptr)));
  ASSERT_TRUE(crl.next_update_unix);
  EXPECT_TRUE(r.context->recheck_resumed(*crl.next_update_unix));
}

TEST_F(crl_build, a_file_that_does_not_parse_is_an_error_at_the_crl_key) {
  write_crl("not a CRL at all\n");
  const auto r = build();
  EXPECT_FALSE(r.context);
  ASSERT_EQ(r.errors.size(), 1u) << r.error_text();
  EXPECT_EQ(r.errors[0].key, "service[svc].crl");
  EXPECT_EQ(r.errors[0].where.file, "mtlsd.toml");
  EXPECT_EQ(r.errors[0].where.line, 12);
  EXPECT_NE(r.errors[0].message.find("cannot load CRL file"), std::string::npos) << r.errors[0].message;
  EXPECT_NE(r.errors[0].message.find("client-ca.crl"), std::string::npos) << r.errors[0].message;
}

TEST_F(crl_build, a_crl_that_does_not_verify_with_its_truststore_issuer_is_an_error) {
  const issued impostor = make_self_signed(ca_spec("Impostor"));
  crl_spec spec;
  spec.forged_by = &impostor;
  write_crl(make_crl(spec, pki.client_ca).der());
  const auto r = build();
  EXPECT_FALSE(r.context);
  ASSERT_EQ(r.errors.size(), 1u) << r.error_text();
  EXPECT_EQ(r.errors[0].key, "service[svc].crl");
  EXPECT_NE(r.errors[0].message.find("signature does not verify"), std::string::npos) << r.errors[0].message;
  EXPECT_NE(r.errors[0].message.find("CN=Test Client CA"), std::string::npos) << r.errors[0].message;
}

TEST_F(crl_build, an_unknown_critical_extension_is_an_error) {
  crl_spec spec;
  spec.unknown_critical_extension = true;
  write_crl(make_crl(spec, pki.client_ca).pem());
  const auto r = build();
  EXPECT_FALSE(r.context);
  ASSERT_EQ(r.errors.size(), 1u) << r.error_text();
  EXPECT_NE(r.errors[0].message.find("critical extension"), std::string::npos) << r.errors[0].message;
  EXPECT_NE(r.errors[0].message.find("1.3.6.1.4.1.55555.1"), std::string::npos) << r.errors[0].message;
}

TEST_F(crl_build, an_intermediates_crl_loads_with_a_warning) {
  const issued intermediate = issue(ca_spec("Client Intermediate"), pki.client_ca);
  write_crl(make_crl({}, pki.client_ca).pem() + make_crl({}, intermediate).pem());
  const auto r = build();
  ASSERT_TRUE(r.context) << r.error_text();
  ASSERT_EQ(r.context->crls().size(), 2u);
  EXPECT_FALSE(r.context->crls()[1].issuer_trusted);
  EXPECT_TRUE(any_contains(r.warnings, {"CN=Client Intermediate", "not issued by a truststore CA",
                                        "checked in each handshake"}))
      << joined(r.warnings);
}

TEST_F(crl_build, a_stale_crl_loads_with_a_warning_naming_issuer_and_next_update_in_both_modes) {
  crl_spec spec;
  spec.this_update = -std::chrono::hours(48);
  spec.next_update = -std::chrono::hours(24);
  const crl_made stale = make_crl(spec, pki.client_ca);
  write_crl(stale.pem());
  const std::string next_update = utc_text(X509_CRL_get0_nextUpdate(stale.crl.get()));
  for (const auto mode : {crl_stale_mode::reject, crl_stale_mode::warn}) {
    service.crl_stale = mode;
    const auto r = build();
    ASSERT_TRUE(r.context) << r.error_text();
    EXPECT_TRUE(any_contains(r.warnings, {"CN=Test Client CA", "past its nextUpdate " + next_update,
                                          "crl_stale = \"" + std::string(to_string(mode)) + "\""}))
        << joined(r.warnings);
    EXPECT_EQ(r.context->recheck_resumed(std::time(nullptr)), mode == crl_stale_mode::reject);
  }
}

TEST_F(crl_build, every_bad_file_is_reported_in_one_run) {
  // Two files, both bad: both are reported in one run.
  write_crl("garbage", "one.crl");
  write_crl("", "two.crl");
  service.crl = {pki.dir / "one.crl", pki.dir / "two.crl"};
  const auto r = build();
  EXPECT_FALSE(r.context);
  EXPECT_EQ(r.errors.size(), 2u) << r.error_text();
}

TEST_F(crl_build, crls_are_not_loaded_without_client_certificates) {
  write_crl("garbage");
  service = make_service(pki, verify_client_mode::none);
  service.crl = {pki.dir / "client-ca.crl"};
  const auto r = build();
  EXPECT_TRUE(r.context) << r.error_text();
  EXPECT_TRUE(r.context && r.context->crls().empty());
}

}  // namespace
}  // namespace mtlsd::test

namespace mtlsd::test {
namespace {

// CRLs fetched over HTTP: the cache file name, distribution points, and the
// order check that keeps an older CRL from replacing a newer one.
TEST(crl_cache_file, is_the_sha256_of_the_url_in_hex_under_the_cache_directory) {
  const auto file = tls::crl_cache_file("/var/cache/mtlsd/crl", "http://crl.example.com/ca.crl");
  EXPECT_EQ(file.parent_path(), "/var/cache/mtlsd/crl");
  // printf %s 'http://crl.example.com/ca.crl' | sha256sum
  EXPECT_EQ(file.filename(), "2cc34cb082dc809d656b0bdad45ca639b8de2379fcb62f59f4620e9100f82266.crl");
  EXPECT_NE(tls::crl_cache_file("/c", "http://crl.example.com/ca.crl?x"),
            tls::crl_cache_file("/c", "http://crl.example.com/ca.crl"));
}

TEST(http_distribution_points, lists_the_http_uris_and_skips_others) {
  const issued root = make_self_signed(ca_spec("CDP root"));
  cert_spec spec = ca_spec("CDP intermediate");
  spec.crl_distribution_points = {"http://crl.example.com/root.crl", "ldap://ldap.example.com/cn=root",
                                  "http://crl2.example.com/root.crl"};
  const issued intermediate = issue(spec, root);
  EXPECT_EQ(tls::http_distribution_points(intermediate.cert.get()),
            (std::vector<std::string>{"http://crl.example.com/root.crl", "http://crl2.example.com/root.crl"}));
  EXPECT_TRUE(tls::http_distribution_points(root.cert.get()).empty());
}

TEST(crl_older, a_lower_crl_number_or_an_earlier_this_update_is_older) {
  const issued ca = make_self_signed(ca_spec("Order CA"));
  const issued other = make_self_signed(ca_spec("Other order CA"));
  crl_spec spec;
  spec.crl_number = 7;
  const crl_made seven = make_crl(spec, ca);
  spec.crl_number = 8;
  const crl_made eight = make_crl(spec, ca);
  EXPECT_TRUE(tls::crl_older(seven.crl.get(), eight.crl.get()));
  EXPECT_FALSE(tls::crl_older(eight.crl.get(), seven.crl.get()));
  EXPECT_FALSE(tls::crl_older(eight.crl.get(), eight.crl.get()));

  crl_spec early;
  early.this_update = -std::chrono::hours(3);
  const crl_made earlier = make_crl(early, ca);  // no CRL number: thisUpdate decides
  EXPECT_TRUE(tls::crl_older(earlier.crl.get(), seven.crl.get()));
  EXPECT_FALSE(tls::crl_older(seven.crl.get(), earlier.crl.get()));
  // Another issuer's CRL is not comparable.
  EXPECT_FALSE(tls::crl_older(make_crl(early, other).crl.get(), seven.crl.get()));
}

}  // namespace
}  // namespace mtlsd::test
