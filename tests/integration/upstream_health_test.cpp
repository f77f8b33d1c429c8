// Active health checks of tls:// backends (health_check_interval): a check
// is the handshake a real connection would make, so a backend whose TCP
// port answers but whose TLS cannot serve us — a certificate from a CA we do
// not trust, a name that does not match, a backend refusing our client
// certificate — is taken out of rotation before any client is sent to it,
// with the TLS reason in backend_down; a good backend stays in.

#include <sys/socket.h>
#include <unistd.h>

#include <optional>

#include "integration.hpp"
#include "tls_backend.hpp"

namespace mtlsd::test {
namespace {

class upstream_health : public mtlsd_test {
 protected:
  void SetUp() override {
    cert_spec good;
    good.cn = {"backend"};
    good.dns = {"localhost"};
    good.ip = {"127.0.0.1"};
    good.eku = eku_kind::server_auth;
    good_cert_ = issue(good, pki().server_ca);
    cert_spec ca;
    ca.cn = {"another CA"};
    ca.is_ca = true;
    other_ca_ = make_self_signed(ca);
    // Same names, issued by a CA the service does not trust.
    stranger_cert_ = issue(good, other_ca_);
    // Trusted, but only for "localhost": connecting to 127.0.0.1 must fail.
    cert_spec named;
    named.cn = {"backend"};
    named.dns = {"localhost"};
    named.eku = eku_kind::server_auth;
    name_only_cert_ = issue(named, pki().server_ca);
    cert_spec ours;
    ours.cn = {"mtlsd-upstream"};
    upstream_client_ = pki().write_client("upstream", pki().client(ours));
  }

  static tls_backend_options options(const issued& cert, X509* client_ca, std::uint16_t port = 0) {
    tls_backend_options o;
    o.cert = cert.cert.get();
    o.key = cert.key.get();
    o.client_ca = client_ca;
    o.port = port;
    return o;
  }

  std::unique_ptr<tls_backend> backend(const issued& cert, X509* client_ca) {
    return std::make_unique<tls_backend>(options(cert, client_ca));
  }

  static std::string url(const tls_backend& b) { return "tls://127.0.0.1:" + std::to_string(b.port()); }
  static std::string address(const tls_backend& b) { return "127.0.0.1:" + std::to_string(b.port()); }

  // Client mode (plain TCP in, TLS to the backends) with health checks.
  mtlsd_daemon& start_checked(const std::vector<std::string>& backends) {
    service_spec s;
    s.accept = "tcp://127.0.0.1:0";
    s.verify_client.clear();
    s.tls_files = false;
    s.connect_list = backends;
    s.lines = {"upstream = { cert = " + toml_string(upstream_client_.cert_file.string()) +
                   ", key = " + toml_string(upstream_client_.key_file.string()) + ", truststore = \"server-ca.crt\" }",
               R"(health_check_interval = "100ms")", R"(connect_timeout = "2s")"};
    return start({{}, {}, {s}});
  }

  // Plain TCP round trip through the proxy; empty on success, else what went wrong.
  std::string round_trip(const std::string& payload) {
    const std::string got = tcp_exchange(loopback, port(), payload);
    return got == payload ? std::string() : "got \"" + got + "\"";
  }

  issued good_cert_, other_ca_, stranger_cert_, name_only_cert_;
  client_identity upstream_client_;
};

TEST_F(upstream_health, tls_failures_take_backends_down_with_the_reason_and_clients_go_to_the_good_one) {
  auto good = backend(good_cert_, pki().client_ca.cert.get());
  auto stranger = backend(stranger_cert_, pki().client_ca.cert.get());
  auto misnamed = backend(name_only_cert_, pki().client_ca.cert.get());
  auto picky = backend(good_cert_, other_ca_.cert.get());  // trusts another CA for client certificates
  auto& d = start_checked({url(*good), url(*stranger), url(*misnamed), url(*picky)});

  const auto unknown = d.wait_event("backend_down", {{"backend", address(*stranger)}});
  EXPECT_EQ(unknown.get("reason"), "health_check");
  EXPECT_NE(unknown.get("error").find("TLS handshake failed (unknown_ca)"), std::string::npos) << unknown.get("error");
  EXPECT_NE(unknown.get("error").find("CN=another CA"), std::string::npos) << unknown.get("error");

  const auto mismatch = d.wait_event("backend_down", {{"backend", address(*misnamed)}});
  EXPECT_NE(mismatch.get("error").find("TLS handshake failed (hostname_mismatch)"), std::string::npos)
      << mismatch.get("error");
  EXPECT_NE(mismatch.get("error").find("127.0.0.1"), std::string::npos) << mismatch.get("error");

  const auto refused = d.wait_event("backend_down", {{"backend", address(*picky)}});
  EXPECT_NE(refused.get("error").find("TLS handshake failed (unknown_ca)"), std::string::npos) << refused.get("error");
  EXPECT_NE(refused.get("error").find("it refused our client certificate"), std::string::npos)
      << refused.get("error");

  // The TCP ports were open all along: only the handshake told them apart.
  // Every client reaches the good backend, none fails.
  for (int i = 0; i < 6; ++i) {
    const auto before = d.events("access").size();
    ASSERT_EQ(round_trip("hello " + std::to_string(i) + "\n"), "") << "client " << i;
    d.wait_events("access", {}, before + 1);
  }
  EXPECT_EQ(d.events("access", {{"backend", address(*good)}}).size(), 6u);
  EXPECT_TRUE(d.events("upstream_handshake_failed").empty());

  // The good backend's checks were full handshakes with our certificate, and
  // it was never taken down.
  const auto records = good->wait_records(8);
  for (const auto& r : records) {
    ASSERT_TRUE(r.handshake_ok) << r.error;
    EXPECT_NE(r.client_subject.find("CN=mtlsd-upstream"), std::string::npos) << r.client_subject;
  }
  EXPECT_TRUE(d.events("backend_down", {{"backend", address(*good)}}).empty());
}

TEST_F(upstream_health, a_backend_fixed_after_a_failed_check_comes_back_on_the_next_passing_check) {
  auto good = backend(good_cert_, pki().client_ca.cert.get());
  std::optional<tls_backend> flaky(std::in_place, options(stranger_cert_, pki().client_ca.cert.get()));
  const auto flaky_port = flaky->port();
  auto& d = start_checked({url(*good), url(*flaky)});
  d.wait_event("backend_down", {{"backend", address(*flaky)}});
  // The same port now with a trusted certificate: no client had to fail for it.
  flaky.reset();
  flaky.emplace(options(good_cert_, pki().client_ca.cert.get(), flaky_port));
  const auto up = d.wait_event("backend_up", {{"backend", "127.0.0.1:" + std::to_string(flaky_port)}});
  EXPECT_EQ(up.get("reason"), "health_check");
  EXPECT_TRUE(d.events("access").empty());
}

}  // namespace
}  // namespace mtlsd::test
