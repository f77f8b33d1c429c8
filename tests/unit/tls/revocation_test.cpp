// Revocation in real handshakes (tls::stream over loopback, a server_context
// with CRLs, an OpenSSL client): who is refused, with which reason, and a
// detail that names the certificate, its serial and the CRL entry. Also the
// live re-evaluation of an established connection under another context
// (live_judge.hpp) and OCSP stapling of the server certificate.

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>

#include <ctime>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "mtlsd/tls/live_judge.hpp"
#include "mtlsd/tls/ocsp_staple.hpp"
#include "tls_client.hpp"
#include "tls_test_support.hpp"

namespace mtlsd::test {
namespace {

const std::string greeting = "hello from the server";

struct outcome {
  server_side server;
  handshake_result client_handshake;
  read_result client_read;
  std::string client_alert;
  std::string stapled;  // the DER OCSP response the client received
  // Filled by `after_handshake` on the server side, while the connection is up.
  std::vector<tls::live_verdict> judged;
};

using after_handshake = std::function<void(SSL*, outcome&)>;

asio::awaitable<void> serve(tcp::acceptor& acceptor, const tls::server_context& context, outcome& out,
                            after_handshake then) {
  co_await accept_and_handshake(acceptor, context, out.server);
  if (out.server.handshake_error || !out.server.stream) co_return;
  if (then) then(out.server.stream->native(), out);
  co_await out.server.stream->write_all(asio::buffer(greeting));
}

outcome connect_once(const tls::server_context& context, tls_client_options options, after_handshake then = {}) {
  outcome out;
  asio::io_context io;
  struct stream_releaser {
    server_side& server;
    ~stream_releaser() { server.stream.reset(); }
  } releaser{out.server};
  auto acceptor = loopback_acceptor(io);
  const auto port = acceptor.local_endpoint().port();
  event server_done;
  auto client = std::async(std::launch::async, [&] {
    tls_client c(options);
    out.client_handshake = c.connect("127.0.0.1", port);
    out.stapled = c.ocsp_response();
    server_done.wait();
    out.client_read = c.read_exact(greeting.size());
    out.client_alert =
        !out.client_handshake.alert_received.empty() ? out.client_handshake.alert_received : c.last_alert_received();
  });
  EXPECT_TRUE(run_to_completion(io, serve(acceptor, context, out, std::move(then)), &server_done));
  EXPECT_EQ(client.wait_for(30s), std::future_status::ready) << "client thread did not finish";
  client.get();
  return out;
}

class revocation : public ::testing::Test {
 protected:
  tls_client_options client(const issued& leaf, std::vector<const issued*> chain = {}) {
    tls_client_options options;
    options.identity = client_identity::of(leaf, std::move(chain));
    return options;
  }

  // A service that checks `crls` (each written to its own file).
  std::shared_ptr<const tls::server_context> context_with(const std::vector<std::string>& crls,
                                                          crl_stale_mode mode = crl_stale_mode::reject,
                                                          std::optional<allow_rules> allow = std::nullopt) {
    service_config service = make_service(pki);
    service.crl_stale = mode;
    service.allow = std::move(allow);
    for (std::size_t i = 0; i < crls.size(); ++i) {
      const auto file = pki.dir / ("crl-" + std::to_string(++files_) + ".crl");
      write_file(file, crls[i]);
      service.crl.push_back(file);
    }
    return must_build(service);
  }

  // PEM of a current CRL of `ca`.
  std::string crl_of(const issued& ca, std::vector<revoked_cert> revoked = {}) {
    crl_spec spec;
    spec.revoked = std::move(revoked);
    return make_crl(spec, ca).pem();
  }

  server_pki pki;
  issued intermediate = issue(ca_spec("Client Intermediate"), pki.client_ca);
  int files_ = 0;
};

TEST_F(revocation, a_revoked_leaf_is_refused_naming_serial_date_and_reason) {
  const issued leaf = issue(leaf_spec("revoked-client"), pki.client_ca);
  const auto context = context_with({crl_of(pki.client_ca, {{&leaf, -std::chrono::hours(3), 1}})});
  ASSERT_TRUE(context);
  const auto out = connect_once(*context, client(leaf));
  EXPECT_TRUE(out.server.handshake_error);
  EXPECT_EQ(out.server.verdict.reason, rejection_reason::revoked);
  const std::string& detail = out.server.verdict.detail;
  EXPECT_NE(detail.find("subject=\"CN=revoked-client\""), std::string::npos) << detail;
  EXPECT_NE(detail.find("issuer=\"CN=Test Client CA,O=mtlsd tests\""), std::string::npos) << detail;
  EXPECT_NE(detail.find("serial " + tls::serial_hex(X509_get0_serialNumber(leaf.cert.get()))), std::string::npos)
      << detail;
  EXPECT_NE(detail.find("reason keyCompromise"), std::string::npos) << detail;
  EXPECT_NE(detail.find("revoked: serial"), std::string::npos) << detail;
  EXPECT_NE(detail.find("listed in the CRL of \"CN=Test Client CA,O=mtlsd tests\""), std::string::npos) << detail;
  EXPECT_EQ(out.client_alert, "certificate_revoked");
}

TEST_F(revocation, an_unrevoked_client_is_admitted) {
  const issued revoked = issue(leaf_spec("revoked-client"), pki.client_ca);
  const issued fine = issue(leaf_spec("fine-client"), pki.client_ca);
  const auto context = context_with({crl_of(pki.client_ca, {{&revoked}})});
  ASSERT_TRUE(context);
  const auto out = connect_once(*context, client(fine));
  EXPECT_FALSE(out.server.handshake_error) << out.server.verdict.detail;
  EXPECT_EQ(out.client_read.data, greeting);
}

TEST_F(revocation, a_revoked_intermediate_refuses_what_it_issued) {
  const issued leaf = issue(leaf_spec("under-intermediate"), intermediate);
  const auto context = context_with({crl_of(pki.client_ca, {{&intermediate, -std::chrono::hours(1), 2}}),
                                     crl_of(intermediate)});
  ASSERT_TRUE(context);
  const auto out = connect_once(*context, client(leaf, {&intermediate}));
  EXPECT_TRUE(out.server.handshake_error);
  EXPECT_EQ(out.server.verdict.reason, rejection_reason::revoked);
  EXPECT_NE(out.server.verdict.detail.find("subject=\"CN=Client Intermediate,O=mtlsd tests\""), std::string::npos)
      << out.server.verdict.detail;
  EXPECT_NE(out.server.verdict.detail.find("depth=1"), std::string::npos) << out.server.verdict.detail;
  EXPECT_NE(out.server.verdict.detail.find("reason cACompromise"), std::string::npos) << out.server.verdict.detail;
}

TEST_F(revocation, a_ca_without_a_crl_leaves_revocation_unknown) {
  const issued leaf = issue(leaf_spec("under-intermediate"), intermediate);
  // The root's CRL is loaded, the intermediate's is not.
  const auto context = context_with({crl_of(pki.client_ca)});
  ASSERT_TRUE(context);
  const auto out = connect_once(*context, client(leaf, {&intermediate}));
  EXPECT_TRUE(out.server.handshake_error);
  EXPECT_EQ(out.server.verdict.reason, rejection_reason::revocation_unknown);
  EXPECT_NE(out.server.verdict.detail.find("no CRL from its issuer \"CN=Client Intermediate,O=mtlsd tests\""),
            std::string::npos)
      << out.server.verdict.detail;
  EXPECT_EQ(out.client_alert, "unknown_ca");

  // With the intermediate's CRL too, the same client is admitted.
  const auto complete = context_with({crl_of(pki.client_ca), crl_of(intermediate)});
  ASSERT_TRUE(complete);
  const auto admitted = connect_once(*complete, client(leaf, {&intermediate}));
  EXPECT_FALSE(admitted.server.handshake_error) << admitted.server.verdict.detail;
}

TEST_F(revocation, a_stale_crl_refuses_in_reject_mode_and_admits_in_warn_mode) {
  const issued leaf = issue(leaf_spec("client"), pki.client_ca);
  crl_spec spec;
  spec.this_update = -std::chrono::hours(48);
  spec.next_update = -std::chrono::hours(1);
  const crl_made stale = make_crl(spec, pki.client_ca);

  const auto reject = context_with({stale.pem()}, crl_stale_mode::reject);
  ASSERT_TRUE(reject);
  const auto refused = connect_once(*reject, client(leaf));
  EXPECT_TRUE(refused.server.handshake_error);
  EXPECT_EQ(refused.server.verdict.reason, rejection_reason::crl_stale);
  EXPECT_NE(refused.server.verdict.detail.find("past its nextUpdate"), std::string::npos)
      << refused.server.verdict.detail;
  EXPECT_EQ(refused.client_alert, "certificate_expired");
  EXPECT_NE(refused.server.verdict.detail.find(utc_text(X509_CRL_get0_nextUpdate(stale.crl.get())).substr(0, 13)),
            std::string::npos)
      << refused.server.verdict.detail;

  const auto warn = context_with({stale.pem()}, crl_stale_mode::warn);
  ASSERT_TRUE(warn);
  const auto admitted = connect_once(*warn, client(leaf));
  EXPECT_FALSE(admitted.server.handshake_error) << admitted.server.verdict.detail;
  EXPECT_EQ(admitted.client_read.data, greeting);
}

TEST_F(revocation, a_live_connection_is_judged_again_under_a_new_context) {
  const issued leaf = issue(leaf_spec("live-client"), intermediate);
  const auto before = context_with({crl_of(pki.client_ca), crl_of(intermediate)});
  const auto same = context_with({crl_of(pki.client_ca), crl_of(intermediate)});
  const auto revoking = context_with({crl_of(pki.client_ca), crl_of(intermediate, {{&leaf}})});
  const auto unknown = context_with({crl_of(pki.client_ca)});
  allow_rules others;
  others.cn = {"someone-else"};
  const auto narrower = context_with({crl_of(pki.client_ca), crl_of(intermediate)}, crl_stale_mode::reject, others);
  ASSERT_TRUE(before && same && revoking && unknown && narrower);

  const auto out = connect_once(*before, client(leaf, {&intermediate}), [&](SSL* ssl, outcome& o) {
    for (const auto* next : {same.get(), revoking.get(), unknown.get(), narrower.get()}) {
      tls::live_judge judge(*next);
      o.judged.push_back(judge.judge(ssl));
    }
  });
  ASSERT_FALSE(out.server.handshake_error) << out.server.verdict.detail;
  ASSERT_EQ(out.judged.size(), 4u);
  EXPECT_TRUE(out.judged[0].admitted) << out.judged[0].detail;
  EXPECT_FALSE(out.judged[1].admitted);
  EXPECT_EQ(out.judged[1].reason, rejection_reason::revoked);
  EXPECT_NE(out.judged[1].detail.find("subject=\"CN=live-client\""), std::string::npos) << out.judged[1].detail;
  EXPECT_FALSE(out.judged[2].admitted);
  EXPECT_EQ(out.judged[2].reason, rejection_reason::revocation_unknown);
  EXPECT_FALSE(out.judged[3].admitted);
  EXPECT_EQ(out.judged[3].reason, rejection_reason::not_whitelisted);
  EXPECT_NE(out.judged[3].detail.find("no allow rule matched"), std::string::npos) << out.judged[3].detail;
}

TEST_F(revocation, a_connection_without_a_client_certificate_is_never_refused_live) {
  service_config want = make_service(pki, verify_client_mode::want);
  const auto context = must_build(want);
  const auto revoking = context_with({crl_of(pki.client_ca)});
  ASSERT_TRUE(context && revoking);
  const auto out = connect_once(*context, tls_client_options{}, [&](SSL* ssl, outcome& o) {
    tls::live_judge judge(*revoking);
    o.judged.push_back(judge.judge(ssl));
  });
  ASSERT_EQ(out.judged.size(), 1u);
  EXPECT_TRUE(out.judged[0].admitted);
}

// OCSP stapling: the response from ocsp_staple_file reaches a client that asks.
class stapling : public ::testing::Test {
 protected:
  std::optional<tls::ocsp_staple> parse(const std::string& der, const issued& cert, const issued& issuer) {
    error.clear();
    warnings.clear();
    return tls::parse_ocsp_staple(der, cert.cert.get(), issuer.cert.get(), std::time(nullptr), error, warnings);
  }
  std::string warning_text() const {
    std::string text;
    for (const auto& w : warnings) text += "\n  " + w;
    return text;
  }

  server_pki pki;
  std::string error;
  std::vector<std::string> warnings;
};

TEST_F(stapling, a_good_response_for_the_server_certificate_parses_and_is_current) {
  const auto staple = parse(make_ocsp_response({}, pki.server, pki.server_ca), pki.server, pki.server_ca);
  ASSERT_TRUE(staple) << error;
  EXPECT_EQ(staple->cert_status, "good");
  EXPECT_TRUE(warnings.empty()) << warning_text();
  EXPECT_TRUE(staple->current_at(std::time(nullptr)));
  ASSERT_TRUE(staple->next_update_unix);
  EXPECT_FALSE(staple->current_at(*staple->next_update_unix));
}

TEST_F(stapling, a_response_about_another_certificate_is_refused) {
  const issued other = issue(leaf_spec("other", eku_kind::server_auth), pki.server_ca);
  EXPECT_FALSE(parse(make_ocsp_response({}, other, pki.server_ca), pki.server, pki.server_ca));
  EXPECT_NE(error.find("not about the server certificate"), std::string::npos) << error;
}

TEST_F(stapling, garbage_and_unsuccessful_responses_are_refused) {
  EXPECT_FALSE(parse("not DER at all", pki.server, pki.server_ca));
  EXPECT_NE(error.find("not a DER OCSP response"), std::string::npos) << error;
  // tryLater (3): an OCSPResponse without a body.
  const std::string try_later("\x30\x03\x0a\x01\x03", 5);
  EXPECT_FALSE(parse(try_later, pki.server, pki.server_ca));
  EXPECT_NE(error.find("trylater"), std::string::npos) << error;
}

TEST_F(stapling, a_stale_or_revoked_response_loads_with_a_warning_and_a_stale_one_is_not_current) {
  ocsp_spec old;
  old.this_update = -std::chrono::hours(48);
  old.next_update = -std::chrono::hours(1);
  const auto stale = parse(make_ocsp_response(old, pki.server, pki.server_ca), pki.server, pki.server_ca);
  ASSERT_TRUE(stale) << error;
  EXPECT_FALSE(stale->current_at(std::time(nullptr)));
  ASSERT_EQ(warnings.size(), 1u) << warning_text();
  EXPECT_NE(warnings[0].find("past its nextUpdate"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("not stapled"), std::string::npos) << warnings[0];

  ocsp_spec revoked;
  revoked.cert_status = ocsp_spec::status::revoked;
  const auto bad = parse(make_ocsp_response(revoked, pki.server, pki.server_ca), pki.server, pki.server_ca);
  ASSERT_TRUE(bad) << error;
  EXPECT_EQ(bad->cert_status, "revoked");
  ASSERT_EQ(warnings.size(), 1u) << warning_text();
  EXPECT_NE(warnings[0].find("revoked"), std::string::npos) << warnings[0];
}

TEST_F(stapling, a_client_that_asks_receives_the_response_and_one_that_does_not_receives_none) {
  const std::string der = make_ocsp_response({}, pki.server, pki.server_ca);
  write_file(pki.dir / "server.ocsp", der);
  service_config service = make_service(pki, verify_client_mode::none);
  service.ocsp_staple_file = pki.dir / "server.ocsp";
  const auto context = must_build(service);
  ASSERT_TRUE(context);
  ASSERT_TRUE(context->staple());
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    tls_client_options asks;
    asks.request_ocsp_status = true;
    asks.max_version = version;
    EXPECT_EQ(connect_once(*context, asks).stapled, der) << version;
    tls_client_options silent;
    silent.max_version = version;
    EXPECT_EQ(connect_once(*context, silent).stapled, "") << version;
  }
}

TEST_F(stapling, the_issuer_must_follow_the_leaf_in_the_cert_file) {
  write_file(pki.dir / "server.ocsp", make_ocsp_response({}, pki.server, pki.server_ca));
  write_file(pki.dir / "leaf-only.crt", pki.server.cert_pem());
  service_config service = make_service(pki, verify_client_mode::none);
  service.cert = pki.dir / "leaf-only.crt";
  service.ocsp_staple_file = pki.dir / "server.ocsp";
  config_errors errors;
  std::vector<std::string> notes;
  EXPECT_FALSE(tls::server_context::build(service, errors, notes));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "service[svc].ocsp_staple_file");
  EXPECT_NE(errors[0].message.find("append it after the leaf"), std::string::npos) << errors[0].message;
}

}  // namespace
}  // namespace mtlsd::test
