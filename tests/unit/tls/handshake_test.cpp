// Real handshakes over loopback TCP: tls::stream::accept() with a real
// server_context and a verdict attached, against an OpenSSL client presenting
// every kind of certificate. What a user depends on: who gets in, and when
// someone does not, the rejection reason and a detail that names the
// certificate — plus the alert the refused client receives.

#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>

#include <future>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "mtlsd/tls/handshake_verdict.hpp"
#include "tls_client.hpp"
#include "tls_test_support.hpp"

namespace mtlsd::test {
namespace {

const std::string greeting = "hello from the server";

enum class presented {
  valid,
  none,
  untrusted_ca,       // issued by a CA the truststore does not hold
  expired,
  not_yet_valid,
  self_signed,
  server_ca_issued,   // issued by the server's CA instead of the client CA
  with_intermediate,  // leaf + intermediate sent, truststore holds the root
  at_depth_limit,     // verify_depth = 1 and one intermediate
  too_deep,           // verify_depth = 1 and two intermediates
  server_auth_only,   // extendedKeyUsage serverAuth without clientAuth
  not_whitelisted,    // allow.cn names someone else
  whitelisted,        // allow.cn names this client
  bad_signature,      // issued by the client CA, then one bit of the signature flipped
};

std::string name_of(presented p) {
  switch (p) {
    case presented::valid: return "valid";
    case presented::none: return "none";
    case presented::untrusted_ca: return "untrusted_ca";
    case presented::expired: return "expired";
    case presented::not_yet_valid: return "not_yet_valid";
    case presented::self_signed: return "self_signed";
    case presented::server_ca_issued: return "server_ca_issued";
    case presented::with_intermediate: return "with_intermediate";
    case presented::at_depth_limit: return "at_depth_limit";
    case presented::too_deep: return "too_deep";
    case presented::server_auth_only: return "server_auth_only";
    case presented::not_whitelisted: return "not_whitelisted";
    case presented::whitelisted: return "whitelisted";
    case presented::bad_signature: return "bad_signature";
  }
  return "?";
}

// Everything the handshakes share: made once, the files written once.
struct suite_pki {
  server_pki files;
  issued other_ca = make_self_signed(ca_spec("Other CA"));
  issued intermediate_1 = issue(ca_spec("Client Intermediate 1"), files.client_ca);
  issued intermediate_2 = issue(ca_spec("Client Intermediate 2"), intermediate_1);
};

// The client's certificate (leaf first) and what it sends.
struct client_material {
  std::vector<issued> owned;
  std::optional<client_identity> identity;
  const issued* leaf() const { return owned.empty() ? nullptr : &owned.front(); }
};

client_material make_client(const suite_pki& pki, presented kind) {
  client_material m;
  cert_spec spec = leaf_spec("client-" + name_of(kind));
  std::vector<const issued*> chain;
  switch (kind) {
    case presented::none:
      return m;
    case presented::valid:
    case presented::not_whitelisted:
    case presented::whitelisted:
      m.owned.push_back(issue(spec, pki.files.client_ca));
      break;
    case presented::untrusted_ca:
      m.owned.push_back(issue(spec, pki.other_ca));
      break;
    case presented::expired:
      spec.not_before = -std::chrono::hours(48);
      spec.not_after = -std::chrono::hours(24);
      m.owned.push_back(issue(spec, pki.files.client_ca));
      break;
    case presented::not_yet_valid:
      spec.not_before = std::chrono::hours(24);
      spec.not_after = std::chrono::hours(48);
      m.owned.push_back(issue(spec, pki.files.client_ca));
      break;
    case presented::self_signed:
      m.owned.push_back(make_self_signed(spec));
      break;
    case presented::server_ca_issued:
      m.owned.push_back(issue(spec, pki.files.server_ca));
      break;
    case presented::with_intermediate:
    case presented::at_depth_limit:
      m.owned.push_back(issue(spec, pki.intermediate_1));
      chain = {&pki.intermediate_1};
      break;
    case presented::too_deep:
      m.owned.push_back(issue(spec, pki.intermediate_2));
      chain = {&pki.intermediate_2, &pki.intermediate_1};
      break;
    case presented::server_auth_only:
      spec.eku = eku_kind::server_auth;
      m.owned.push_back(issue(spec, pki.files.client_ca));
      break;
    case presented::bad_signature: {
      m.owned.push_back(issue(spec, pki.files.client_ca));
      // The signature is encoded apart from the signed part, so the client
      // sends this exact corruption and the server's signature check fails.
      const ASN1_BIT_STRING* signature = nullptr;
      X509_get0_signature(&signature, nullptr, m.owned.back().cert.get());
      auto* bits = const_cast<ASN1_BIT_STRING*>(signature);
      bits->data[bits->length - 1] ^= 0x01;
      break;
    }
  }
  m.identity = client_identity::of(m.owned.front(), chain);
  return m;
}

allow_rules allow_cn(std::vector<std::string> cn) {
  allow_rules rules;
  rules.cn = std::move(cn);
  return rules;
}

service_config service_for(const suite_pki& pki, verify_client_mode mode, presented kind) {
  service_config service = make_service(pki.files, mode);
  if (kind == presented::at_depth_limit || kind == presented::too_deep) service.verify_depth = 1;
  if (kind == presented::not_whitelisted) service.allow = allow_cn({"partner-a"});
  if (kind == presented::whitelisted) service.allow = allow_cn({"partner-a", "client-whitelisted"});
  return service;
}

// What both ends saw of one connection attempt.
struct outcome {
  server_side server;
  std::string server_write_error;
  bool peer_certificate = false;  // the server holds a client certificate after the handshake
  handshake_result client_handshake;
  read_result client_read;
  std::string client_alert;
};

asio::awaitable<void> serve_greeting(tcp::acceptor& acceptor, const tls::server_context& context, outcome& out) {
  co_await accept_and_handshake(acceptor, context, out.server);
  if (out.server.handshake_error || !out.server.stream) co_return;
  out.peer_certificate = SSL_get0_peer_certificate(out.server.stream->native()) != nullptr;
  if (auto ec = co_await out.server.stream->write_all(asio::buffer(greeting))) out.server_write_error = ec.message();
}

// One connection: the server handshakes and, when it succeeds, sends a
// greeting; the client connects, waits for the server to finish, then reads
// (the greeting, or the alert that TLS 1.3 delivers after the client's side
// of the handshake has completed).
void run_connection(const tls::server_context& context, tls_client_options options, outcome& out) {
  asio::io_context io;
  // The stream's socket belongs to `io`, which dies first when this returns.
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
    server_done.wait();
    out.client_read = c.read_exact(greeting.size());
    out.client_alert =
        !out.client_handshake.alert_received.empty() ? out.client_handshake.alert_received : c.last_alert_received();
  });
  EXPECT_TRUE(run_to_completion(io, serve_greeting(acceptor, context, out), &server_done));
  ASSERT_EQ(client.wait_for(30s), std::future_status::ready) << "client thread did not finish";
  client.get();
}

std::string expand(std::string text, const issued* leaf) {
  const auto replace = [&](const std::string& token, const std::string& value) {
    if (auto at = text.find(token); at != std::string::npos) text.replace(at, token.size(), value);
  };
  if (leaf) {
    replace("{not_after}", utc_text(X509_get0_notAfter(leaf->cert.get())));
    replace("{not_before}", utc_text(X509_get0_notBefore(leaf->cert.get())));
  }
  return text;
}

struct handshake_case {
  verify_client_mode mode;
  presented kind;
  bool admitted;
  rejection_reason reason = rejection_reason::other;
  std::vector<std::string> detail = {};  // substrings; {not_after}/{not_before} are the leaf's
  std::string alert = {};                // what a refused client receives
  std::string alert_tls12 = {};          // when TLS 1.2 sends a different one
};

using verify_client_mode::none;
using verify_client_mode::require;
using verify_client_mode::want;

const handshake_case cases[] = {
    {require, presented::valid, true},
    {require, presented::none, false, rejection_reason::no_certificate, {"no certificate"},
     "certificate_required", "handshake_failure"},
    {require, presented::untrusted_ca, false, rejection_reason::unknown_ca,
     {"subject=\"CN=client-untrusted_ca\"", "issuer=\"CN=Other CA,O=mtlsd tests\"", "truststore"}, "unknown_ca"},
    {require, presented::expired, false, rejection_reason::expired,
     {"subject=\"CN=client-expired\"", "not_after={not_after}", "expired"}, "certificate_expired"},
    {require, presented::not_yet_valid, false, rejection_reason::not_yet_valid,
     {"subject=\"CN=client-not_yet_valid\"", "not_before={not_before}", "not valid"}, "bad_certificate"},
    {require, presented::self_signed, false, rejection_reason::unknown_ca,
     {"subject=\"CN=client-self_signed\"", "self-signed"}, "unknown_ca"},
    {require, presented::server_ca_issued, false, rejection_reason::unknown_ca,
     {"subject=\"CN=client-server_ca_issued\"", "issuer=\"CN=Test Server CA,O=mtlsd tests\""}, "unknown_ca"},
    {require, presented::with_intermediate, true},
    {require, presented::at_depth_limit, true},
    {require, presented::too_deep, false, rejection_reason::depth_exceeded, {"verify_depth = 1"}, "unknown_ca"},
    {require, presented::server_auth_only, false, rejection_reason::bad_eku,
     {"subject=\"CN=client-server_auth_only\"", "serverAuth", "clientAuth"}, "unsupported_certificate"},
    {require, presented::not_whitelisted, false, rejection_reason::not_whitelisted,
     {"subject=\"CN=client-not_whitelisted\"", "no allow rule matched", "cn=[\"client-not_whitelisted\"]"},
     "handshake_failure"},
    {require, presented::whitelisted, true},
    {require, presented::bad_signature, false, rejection_reason::bad_signature,
     {"subject=\"CN=client-bad_signature\"", "signature does not verify"}, "decrypt_error"},

    {want, presented::valid, true},
    {want, presented::none, true},
    {want, presented::untrusted_ca, false, rejection_reason::unknown_ca, {"CN=Other CA"}, "unknown_ca"},
    {want, presented::expired, false, rejection_reason::expired, {"not_after={not_after}"}, "certificate_expired"},
    {want, presented::not_whitelisted, false, rejection_reason::not_whitelisted, {"no allow rule matched"},
     "handshake_failure"},

    // No CertificateRequest: a client never sends its certificate, good or bad.
    {none, presented::none, true},
    {none, presented::valid, true},
    {none, presented::untrusted_ca, true},
};

class handshake_matrix : public ::testing::TestWithParam<std::tuple<handshake_case, int>> {
 protected:
  static void SetUpTestSuite() { pki_ = new suite_pki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  static suite_pki* pki_;
};

suite_pki* handshake_matrix::pki_ = nullptr;

TEST_P(handshake_matrix, admits_or_refuses_with_reason_and_detail) {
  const auto& [c, version] = GetParam();
  const auto context = must_build(service_for(*pki_, c.mode, c.kind));
  ASSERT_TRUE(context);
  const client_material material = make_client(*pki_, c.kind);

  tls_client_options options;
  options.identity = material.identity;
  options.min_version = version;
  options.max_version = version;
  outcome out;
  ASSERT_NO_FATAL_FAILURE(run_connection(*context, options, out));

  const std::string version_text = version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2";
  if (c.admitted) {
    EXPECT_FALSE(out.server.handshake_error) << out.server.handshake_error.message() << " / "
                                             << to_string(out.server.verdict.reason) << ": "
                                             << out.server.verdict.detail;
    EXPECT_FALSE(out.server.verdict.refused) << out.server.verdict.detail;
    EXPECT_EQ(out.server.version, version_text);
    EXPECT_EQ(out.client_read.data, greeting) << out.client_read.error;
    const bool certificate_expected = c.mode != none && material.leaf();
    EXPECT_EQ(out.peer_certificate, certificate_expected);
    if (certificate_expected) {
      ASSERT_TRUE(out.server.verdict.identity);
      EXPECT_EQ(out.server.verdict.identity->sha256, material.leaf()->sha256_hex());
      EXPECT_EQ(out.server.verdict.identity->cn, std::vector<std::string>{"client-" + name_of(c.kind)});
    } else {
      EXPECT_FALSE(out.server.verdict.identity);
    }
    return;
  }

  EXPECT_TRUE(out.server.handshake_error) << "handshake succeeded for a client that must be refused";
  EXPECT_TRUE(out.server.verdict.refused);
  EXPECT_EQ(to_string(out.server.verdict.reason), to_string(c.reason)) << out.server.verdict.detail;
  for (const auto& part : c.detail) {
    const std::string wanted = expand(part, material.leaf());
    EXPECT_NE(out.server.verdict.detail.find(wanted), std::string::npos)
        << "detail lacks \"" << wanted << "\": " << out.server.verdict.detail;
  }
  const std::string alert = version == TLS1_2_VERSION && !c.alert_tls12.empty() ? c.alert_tls12 : c.alert;
  EXPECT_EQ(out.client_alert, alert);
  EXPECT_NE(out.client_read.data, greeting);
}

std::string verify_mode_name(verify_client_mode mode) {
  switch (mode) {
    case none: return "none";
    case want: return "want";
    case require: return "require";
  }
  return "?";
}

INSTANTIATE_TEST_SUITE_P(
    verify_mode_x_certificate, handshake_matrix,
    ::testing::Combine(::testing::ValuesIn(cases), ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION)),
    [](const ::testing::TestParamInfo<std::tuple<handshake_case, int>>& p) {
      const handshake_case& c = std::get<0>(p.param);
      return verify_mode_name(c.mode) + "_" + name_of(c.kind) +
             (std::get<1>(p.param) == TLS1_3_VERSION ? "_tls13" : "_tls12");
    });

class handshake : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new suite_pki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  static suite_pki* pki_;
};

suite_pki* handshake::pki_ = nullptr;

TEST_F(handshake, verdict_holds_the_identity_of_the_admitted_leaf) {
  const auto context = must_build(make_service(pki_->files));
  ASSERT_TRUE(context);
  cert_spec spec = leaf_spec("partner-a");
  spec.ou = {"payments"};
  spec.o = {"Partner A Ltd"};
  spec.dns = {"gw.partner-a.example"};
  spec.uri = {"spiffe://example.org/partner/a"};
  spec.ip = {"10.1.2.3"};
  spec.email = {"ops@partner-a.example"};
  const issued leaf = issue(spec, pki_->intermediate_1);

  tls_client_options options;
  options.identity = client_identity::of(leaf, {&pki_->intermediate_1});
  outcome out;
  ASSERT_NO_FATAL_FAILURE(run_connection(*context, options, out));

  ASSERT_FALSE(out.server.handshake_error) << out.server.verdict.detail;
  ASSERT_TRUE(out.server.verdict.identity);
  const auto& id = *out.server.verdict.identity;
  EXPECT_EQ(id.cn, std::vector<std::string>{"partner-a"});
  EXPECT_EQ(id.ou, std::vector<std::string>{"payments"});
  EXPECT_EQ(id.o, std::vector<std::string>{"Partner A Ltd"});
  EXPECT_EQ(id.dns, std::vector<std::string>{"gw.partner-a.example"});
  EXPECT_EQ(id.uri, std::vector<std::string>{"spiffe://example.org/partner/a"});
  EXPECT_EQ(id.ip, std::vector<std::string>{"10.1.2.3"});
  EXPECT_EQ(id.email, std::vector<std::string>{"ops@partner-a.example"});
  EXPECT_EQ(id.sha256, leaf.sha256_hex());
  EXPECT_NE(id.issuer.find("CN=Client Intermediate 1"), std::string::npos) << id.issuer;
  EXPECT_EQ(out.server.version, "TLSv1.3");
}

TEST_F(handshake, each_whitelist_field_admits_on_its_own) {
  cert_spec spec = leaf_spec("partner-b");
  spec.dns = {"api.partner-b.example"};
  spec.uri = {"spiffe://example.org/partner/b/gw"};
  const issued leaf = issue(spec, pki_->files.client_ca);
  std::vector<allow_rules> admitting(3);
  admitting[0].dns = {"*.partner-b.example"};
  admitting[1].uri = {"spiffe://example.org/partner/*"};
  admitting[2].sha256 = {leaf.sha256_hex()};
  for (const auto& rules : admitting) {
    service_config service = make_service(pki_->files);
    service.allow = rules;
    const auto context = must_build(service);
    ASSERT_TRUE(context);
    tls_client_options options;
    options.identity = client_identity::of(leaf);
    outcome out;
    ASSERT_NO_FATAL_FAILURE(run_connection(*context, options, out));
    EXPECT_FALSE(out.server.handshake_error) << out.server.verdict.detail;
    EXPECT_EQ(out.client_read.data, greeting);
  }
}

TEST_F(handshake, min_tls_version_1_3_refuses_a_tls_1_2_client) {
  service_config service = make_service(pki_->files);
  service.min_tls_version = tls_version::tls1_3;
  const auto context = must_build(service);
  ASSERT_TRUE(context);
  const issued leaf = issue(leaf_spec("old-client"), pki_->files.client_ca);

  tls_client_options options;
  options.identity = client_identity::of(leaf);
  options.max_version = TLS1_2_VERSION;
  outcome out;
  ASSERT_NO_FATAL_FAILURE(run_connection(*context, options, out));

  EXPECT_TRUE(out.server.handshake_error);
  EXPECT_EQ(to_string(out.server.verdict.reason), "protocol_version") << out.server.verdict.detail;
  EXPECT_NE(out.server.verdict.detail.find("TLSv1.2"), std::string::npos) << out.server.verdict.detail;
  EXPECT_NE(out.server.verdict.detail.find("min_tls_version = 1.3"), std::string::npos) << out.server.verdict.detail;
  EXPECT_EQ(out.client_alert, "protocol_version");
  EXPECT_FALSE(out.client_handshake.ok);
}

TEST_F(handshake, min_tls_version_1_3_admits_a_tls_1_3_client) {
  service_config service = make_service(pki_->files);
  service.min_tls_version = tls_version::tls1_3;
  const auto context = must_build(service);
  ASSERT_TRUE(context);
  const issued leaf = issue(leaf_spec("new-client"), pki_->files.client_ca);
  tls_client_options options;
  options.identity = client_identity::of(leaf);
  outcome out;
  ASSERT_NO_FATAL_FAILURE(run_connection(*context, options, out));
  EXPECT_FALSE(out.server.handshake_error) << out.server.verdict.detail;
  EXPECT_EQ(out.server.version, "TLSv1.3");
}

TEST_F(handshake, client_that_disconnects_mid_handshake_is_other) {
  const auto context = must_build(make_service(pki_->files));
  ASSERT_TRUE(context);
  asio::io_context io;
  auto acceptor = loopback_acceptor(io);
  const auto port = acceptor.local_endpoint().port();
  auto client = std::async(std::launch::async, [port] {
    std::string error;
    const int fd = tcp_connect("127.0.0.1", port, 5s, &error);
    // A partial ClientHello record header, then EOF.
    if (fd >= 0) {
      const char partial[] = {0x16, 0x03, 0x01};
      (void)!::write(fd, partial, sizeof partial);
      ::close(fd);
    }
    return error;
  });
  server_side server;
  EXPECT_TRUE(run_to_completion(io, accept_and_handshake(acceptor, *context, server)));
  ASSERT_EQ(client.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(client.get(), "");
  EXPECT_TRUE(server.handshake_error);
  EXPECT_TRUE(server.verdict.refused);
  EXPECT_EQ(to_string(server.verdict.reason), "other");
  EXPECT_FALSE(server.verdict.detail.empty());
}

TEST_F(handshake, plain_http_on_the_tls_port_is_explained) {
  const auto context = must_build(make_service(pki_->files));
  ASSERT_TRUE(context);
  asio::io_context io;
  auto acceptor = loopback_acceptor(io);
  const auto port = acceptor.local_endpoint().port();
  event server_done;
  auto client = std::async(std::launch::async, [&] {
    const int fd = tcp_connect("127.0.0.1", port, 5s);
    if (fd < 0) return;
    const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    (void)!::write(fd, request.data(), request.size());
    server_done.wait();
    ::close(fd);
  });
  server_side server;
  EXPECT_TRUE(run_to_completion(io, accept_and_handshake(acceptor, *context, server), &server_done));
  ASSERT_EQ(client.wait_for(30s), std::future_status::ready);
  EXPECT_TRUE(server.handshake_error);
  EXPECT_EQ(to_string(server.verdict.reason), "other");
  EXPECT_NE(server.verdict.detail.find("HTTP"), std::string::npos) << server.verdict.detail;
}

}  // namespace
}  // namespace mtlsd::test
