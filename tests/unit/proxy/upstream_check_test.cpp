// The TLS step of active health checks for tls:// backends, against a real
// OpenSSL backend (tests/support/tls_backend): a check passes only when the
// handshake completes with a verified certificate and the backend accepts
// our client certificate; a failure names the reason; a backend that
// never answers the handshake ends the check by its deadline.

#include "mtlsd/proxy/upstream_check.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "pki.hpp"
#include "tls_backend.hpp"

namespace mtlsd::proxy {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace ip = asio::ip;
using test::cert_spec;
using test::issued;

issued make_ca(const std::string& name) {
  cert_spec spec;
  spec.cn = {name};
  spec.is_ca = true;
  return test::make_self_signed(spec);
}

class upstream_check : public ::testing::Test {
 protected:
  upstream_check() {
    cert_spec backend;
    backend.cn = {"backend"};
    backend.ip = {"127.0.0.1"};
    backend.eku = test::eku_kind::server_auth;
    backend_cert_ = test::issue(backend, server_ca_);
    stranger_cert_ = test::issue(backend, other_ca_);
    cert_spec ours;
    ours.cn = {"mtlsd-upstream"};
    ours_ = test::issue(ours, client_ca_);
    test::write_file(dir_ / "server-ca.crt", server_ca_.cert_pem());
    test::write_file(dir_ / "ours.crt", ours_.cert_pem());
    test::write_file(dir_ / "ours.key", ours_.key_pem());
  }

  std::unique_ptr<test::tls_backend> backend(const issued& cert, const issued& client_ca) {
    test::tls_backend_options o;
    o.cert = cert.cert.get();
    o.key = cert.key.get();
    o.client_ca = client_ca.cert.get();
    return std::make_unique<test::tls_backend>(o);
  }

  service_config service(std::uint16_t port, duration connect_timeout = 2s) {
    service_config s;
    s.name = "svc";
    std::string error;
    s.connect.push_back(*parse_endpoint("tls://127.0.0.1:" + std::to_string(port), error));
    s.connect_timeout = connect_timeout;
    s.upstream.truststore = dir_ / "server-ca.crt";
    s.upstream.cert = dir_ / "ours.crt";
    s.upstream.key = dir_ / "ours.key";
    return s;
  }

  struct outcome {
    bool passed = false;
    bool finished = false;
    backend_tasks::step_result step;
  };

  // One health check of the service's only backend, with the TLS step.
  outcome check(const service_config& s) {
    config_errors errors;
    std::vector<std::string> warnings;
    auto context = tls::client_context::build(s, errors, warnings);
    EXPECT_TRUE(errors.empty() && context);
    asio::io_context io;
    auto pool = std::make_shared<backend_pool>(s);
    outcome out;
    backend_tasks tasks(io.get_executor(), {},
                        [&](ip::tcp::socket& socket, const backend_member& member, const backend_pool& p,
                            std::chrono::steady_clock::time_point deadline)
                            -> asio::awaitable<backend_tasks::step_result> {
                          out.step = co_await upstream_tls_check(socket, context, member, deadline,
                                                                 p.settings().connect_timeout);
                          co_return out.step;
                        });
    auto result = asio::co_spawn(io, tasks.check(pool, pool->members()[0]), asio::use_future);
    io.run_for(10s);
    out.finished = result.wait_for(0s) == std::future_status::ready;
    if (out.finished) out.passed = result.get();
    EXPECT_EQ(pool->members()[0]->down(), !out.passed);
    return out;
  }

  test::temp_dir dir_;
  issued server_ca_ = make_ca("test server CA"), client_ca_ = make_ca("test client CA"),
         other_ca_ = make_ca("another CA");
  issued backend_cert_, stranger_cert_, ours_;
};

TEST_F(upstream_check, passes_with_a_verified_backend_that_accepts_our_certificate) {
  auto b = backend(backend_cert_, client_ca_);
  const auto out = check(service(b->port()));
  ASSERT_TRUE(out.finished);
  EXPECT_TRUE(out.passed) << out.step.error;
  const auto records = b->wait_records(1);
  ASSERT_TRUE(records[0].handshake_ok) << records[0].error;
  EXPECT_NE(records[0].client_subject.find("CN=mtlsd-upstream"), std::string::npos);
}

TEST_F(upstream_check, a_backend_certificate_from_an_unknown_ca_fails_the_check) {
  auto b = backend(stranger_cert_, client_ca_);
  const auto out = check(service(b->port()));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.passed);
  EXPECT_NE(out.step.error.find("TLS handshake failed (unknown_ca)"), std::string::npos) << out.step.error;
  EXPECT_NE(out.step.error.find("CN=another CA"), std::string::npos) << out.step.error;
}

TEST_F(upstream_check, a_backend_refusing_our_certificate_after_the_tls13_handshake_fails_the_check) {
  auto b = backend(backend_cert_, other_ca_);
  const auto out = check(service(b->port()));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.passed);
  EXPECT_NE(out.step.error.find("it refused our client certificate"), std::string::npos) << out.step.error;
  EXPECT_FALSE(b->wait_records(1)[0].handshake_ok);
}

TEST_F(upstream_check, a_hostname_mismatch_fails_and_verify_hostname_false_passes) {
  auto b = backend(backend_cert_, client_ca_);
  auto strict = service(b->port());
  strict.upstream.server_name = "api.partner.example";
  const auto refused = check(strict);
  ASSERT_TRUE(refused.finished);
  EXPECT_FALSE(refused.passed);
  EXPECT_NE(refused.step.error.find("TLS handshake failed (hostname_mismatch)"), std::string::npos)
      << refused.step.error;
  auto lax = strict;
  lax.upstream.verify_hostname = false;
  const auto admitted = check(lax);
  ASSERT_TRUE(admitted.finished);
  EXPECT_TRUE(admitted.passed) << admitted.step.error;
}

TEST_F(upstream_check, a_backend_that_never_answers_the_handshake_fails_by_the_deadline) {
  // The kernel completes the TCP connect from the backlog; nobody speaks TLS.
  asio::io_context io;
  ip::tcp::acceptor silent(io, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
  const auto started = std::chrono::steady_clock::now();
  const auto out = check(service(silent.local_endpoint().port(), 300ms));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.passed);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_NE(out.step.error.find("TLS handshake not completed within connect_timeout (300ms)"), std::string::npos)
      << out.step.error;
}

}  // namespace
}  // namespace mtlsd::proxy
