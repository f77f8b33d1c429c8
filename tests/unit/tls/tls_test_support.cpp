#include "tls_test_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <ctime>

namespace mtlsd::test {

cert_spec ca_spec(const std::string& cn) {
  cert_spec spec;
  spec.cn = {cn};
  spec.o = {"mtlsd tests"};
  spec.is_ca = true;
  spec.not_before = -std::chrono::hours(24);
  spec.not_after = std::chrono::hours(24 * 365);
  return spec;
}

cert_spec leaf_spec(const std::string& cn, eku_kind eku) {
  cert_spec spec;
  spec.cn = {cn};
  spec.eku = eku;
  return spec;
}

std::string utc_text(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return "<bad time>";
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return text;
}

server_pki::server_pki()
    : server_ca(make_self_signed(ca_spec("Test Server CA"))),
      server(issue(leaf_spec("localhost", eku_kind::server_auth), server_ca)),
      client_ca(make_self_signed(ca_spec("Test Client CA"))),
      cert(dir / "server.crt"),
      key(dir / "server.key"),
      truststore(dir / "client-ca.crt") {
  write_file(cert, server.cert_pem() + server_ca.cert_pem());
  write_file(key, server.key_pem());
  write_file(truststore, client_ca.cert_pem());
}

service_config make_service(const server_pki& pki, verify_client_mode mode) {
  service_config service;
  service.name = "svc";
  service.key_path_prefix = "service[svc]";
  service.accept = {transport::tls, "127.0.0.1", 0};
  service.connect = {{transport::tcp, "127.0.0.1", 9}};
  service.verify_client = mode;
  service.cert = pki.cert;
  service.key = pki.key;
  if (mode != verify_client_mode::none) service.truststore = pki.truststore;
  return service;
}

std::shared_ptr<const tls::server_context> must_build(const service_config& service) {
  config_errors errors;
  std::vector<std::string> warnings;
  auto context = tls::server_context::build(service, errors, warnings);
  std::string text;
  for (const auto& e : errors) text += "\n  " + e.to_string();
  EXPECT_TRUE(context) << "server_context::build failed:" << text;
  EXPECT_TRUE(errors.empty()) << text;
  return context;
}

asio::awaitable<void> accept_and_handshake(tcp::acceptor& acceptor, const tls::server_context& context,
                                           server_side& out) {
  auto [accept_ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
  if (accept_ec) {
    out.handshake_error = accept_ec;
    co_return;
  }
  ossl::ssl_ptr ssl(SSL_new(context.native()));
  if (!ssl) {
    ADD_FAILURE() << "SSL_new: " << ossl::drain_errors();
    co_return;
  }
  out.verdict.context = &context;
  tls::attach(ssl.get(), &out.verdict);
  auto& stream = out.stream.emplace(std::move(socket), std::move(ssl));
  out.handshake_error = co_await stream.accept();
  tls::attach(stream.native(), nullptr);
  if (out.handshake_error)
    tls::explain_failure(stream.native(), out.verdict);
  else
    out.version = SSL_get_version(stream.native());
}

tcp::acceptor loopback_acceptor(asio::io_context& io) {
  return tcp::acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
}

::testing::AssertionResult run_to_completion(asio::io_context& io, asio::awaitable<void> work, event* done,
                                             std::chrono::seconds limit) {
  bool completed = false;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(work), [&](std::exception_ptr e) {
    completed = true;
    error = e;
    if (done) done->set();
  });
  io.run_for(limit);
  if (!completed) {
    io.stop();
    if (done) done->set();
    return ::testing::AssertionFailure() << "server side did not complete within " << limit.count() << " s";
  }
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& x) {
      return ::testing::AssertionFailure() << "server side threw: " << x.what();
    } catch (...) {
      return ::testing::AssertionFailure() << "server side threw";
    }
  }
  if (!io.stopped())
    return ::testing::AssertionFailure() << "handlers still pending after " << limit.count() << " s";
  return ::testing::AssertionSuccess();
}

}  // namespace mtlsd::test
