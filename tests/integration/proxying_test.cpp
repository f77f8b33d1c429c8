// The data plane: bulk transfers both ways at once, half-close in each
// direction, an unreachable backend, and the access line's accounting.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <csignal>
#include <set>
#include <thread>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

constexpr std::uint64_t mib = 1024 * 1024;

std::uint16_t local_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

class proxying : public mtlsd_test {
 protected:
  // One require-mode service in front of `backend`, and a client cert for it.
  void start_in_front_of(const loopback_server& backend, std::vector<std::string> lines = {}) {
    config_spec config;
    config.services.push_back(service(backend.connect_url(), "require", std::move(lines)));
    start(config);
    leaf_ = pki().client();
    // PEM files, as a real client would hold them.
    identity_ = pki().write_client("client", leaf_);
  }

  tls_client_options options() { return client_options(identity_); }

  issued leaf_;
  client_identity identity_;
};

TEST_F(proxying, moves_64_mib_each_way_at_once_intact) {
  const std::uint64_t size = 64 * mib;
  sink_options sink;
  sink.send_generated = size;
  sink.send_seed = 2;
  sink.fin_after_send = false;  // close only after the client's close_notify arrived
  loopback_server backend(sink_handler(sink), 120s);
  start_in_front_of(backend);

  tls_client client(options());
  ASSERT_TRUE(client.connect(loopback, port()).ok);
  payload_source upload(size, 1);
  write_result written;
  std::thread writer([&] { written = client.write_stream(upload); });
  auto downloaded = client.read_stream(size);
  writer.join();

  ASSERT_TRUE(written.ok) << written.error;
  EXPECT_EQ(downloaded.bytes, size) << downloaded.error;
  EXPECT_EQ(downloaded.sha256, payload_source(size, 2).expected_sha256());

  ASSERT_TRUE(client.shutdown());
  auto rest = client.read_until_eof();
  EXPECT_EQ(rest.end, read_end::close_notify) << rest.error;
  EXPECT_TRUE(rest.data.empty());

  auto record = backend.wait_finished(1).at(0);
  EXPECT_EQ(record.bytes_received, size);
  EXPECT_EQ(record.sha256_received, payload_source(size, 1).expected_sha256());
  EXPECT_TRUE(record.eof_received);

  auto access = daemon().wait_event("access");
  EXPECT_EQ(access.get("bytes_from_client"), std::to_string(size));
  EXPECT_EQ(access.get("bytes_to_client"), std::to_string(size));
}

TEST_F(proxying, echoes_32_mib_through_an_echo_backend_while_still_sending) {
  const std::uint64_t size = 32 * mib;
  loopback_server backend(echo_handler(), 120s);
  start_in_front_of(backend);

  tls_client client(options());
  ASSERT_TRUE(client.connect(loopback, port()).ok);
  payload_source upload(size, 7);
  write_result written;
  std::thread writer([&] { written = client.write_stream(upload); });
  auto echoed = client.read_stream(size);
  writer.join();
  ASSERT_TRUE(written.ok) << written.error;
  EXPECT_EQ(echoed.bytes, size) << echoed.error;
  EXPECT_EQ(echoed.sha256, payload_source(size, 7).expected_sha256());
}

TEST_F(proxying, client_half_close_reaches_backend_after_all_data_and_reply_still_flows) {
  const std::uint64_t size = 1 * mib;
  sink_options sink;
  sink.reply_after_eof = "reply sent after your FIN";
  loopback_server backend(sink_handler(sink));
  start_in_front_of(backend);

  tls_client client(options());
  ASSERT_TRUE(client.connect(loopback, port()).ok);
  payload_source upload(size, 3);
  ASSERT_TRUE(client.write_stream(upload).ok);
  ASSERT_TRUE(client.shutdown());  // close_notify: our half-close

  auto reply = client.read_until_eof();
  EXPECT_EQ(reply.data, sink.reply_after_eof);
  EXPECT_EQ(reply.end, read_end::close_notify) << reply.error;

  auto record = backend.wait_finished(1).at(0);
  EXPECT_TRUE(record.eof_received);
  EXPECT_EQ(record.received_at_eof, size);
  EXPECT_EQ(record.sha256_received, payload_source(size, 3).expected_sha256());
  EXPECT_EQ(record.events, (std::vector<std::string>{"eof", "reply", "fin"}));
}

TEST_F(proxying, backend_half_close_reaches_client_as_close_notify_and_client_can_still_send) {
  const std::uint64_t down = 1 * mib;
  const std::uint64_t up = 256 * 1024;
  sink_options sink;
  sink.send_generated = down;
  sink.send_seed = 4;
  sink.fin_after_send = true;
  loopback_server backend(sink_handler(sink));
  start_in_front_of(backend);

  tls_client client(options());
  ASSERT_TRUE(client.connect(loopback, port()).ok);
  auto received = client.read_stream_to_end();
  EXPECT_EQ(received.bytes, down);
  EXPECT_EQ(received.sha256, payload_source(down, 4).expected_sha256());
  // SSL_read returned 0 with SSL_ERROR_ZERO_RETURN: a clean close_notify.
  EXPECT_EQ(received.end, read_end::close_notify) << received.error;

  // Our direction is still open after the backend's FIN.
  payload_source upload(up, 5);
  auto written = client.write_stream(upload);
  EXPECT_TRUE(written.ok) << written.error;
  EXPECT_TRUE(client.shutdown());

  auto record = backend.wait_finished(1).at(0);
  EXPECT_EQ(record.events, (std::vector<std::string>{"fin", "eof"}));
  EXPECT_EQ(record.bytes_received, up);
  EXPECT_EQ(record.sha256_received, payload_source(up, 5).expected_sha256());
}

TEST_F(proxying, unreachable_backend_closes_client_promptly_and_other_services_keep_working) {
  loopback_server live(echo_handler());
  const std::uint16_t dead = closed_port();
  config_spec config;
  auto down = service("tcp://127.0.0.1:" + std::to_string(dead));
  down.name = "down";
  auto up = service(live.connect_url());
  up.name = "up";
  config.services = {down, up};
  auto& d = start(config);
  auto leaf = pki().client();

  const auto started = std::chrono::steady_clock::now();
  auto refused = connect_and_probe(client_identity::of(leaf), "down");
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_FALSE(refused.admitted);
  EXPECT_LT(took, 3s) << "the client waited for a backend that refused at once";

  auto failed = d.wait_event("backend_connect_failed", {{"svc", "down"}});
  EXPECT_EQ(failed.get("backend"), "127.0.0.1:" + std::to_string(dead));
  EXPECT_FALSE(failed.get("error").empty());
  EXPECT_EQ(d.wait_event("access", {{"svc", "down"}}).get("close"), "backend_unreachable");

  auto fine = connect_and_probe(client_identity::of(leaf), "up");
  EXPECT_TRUE(fine.admitted) << fine.error;
  // And the dead one still answers (with the same refusal) rather than having died.
  EXPECT_FALSE(connect_and_probe(client_identity::of(leaf), "down").admitted);
  EXPECT_EQ(d.wait_events("backend_connect_failed", {{"svc", "down"}}, 2).size(), 2u);
}

TEST_F(proxying, every_connection_gets_exactly_one_access_line_however_abruptly_it_ends) {
  loopback_server backend(echo_handler());
  start_in_front_of(backend);
  constexpr int clients = 60;
  for (int i = 0; i < clients; ++i) {
    tls_client client(options());
    ASSERT_TRUE(client.connect(loopback, port()).ok);
    ASSERT_TRUE(client.write_all("x").ok);
    // Reset right away: the relay may see the end before it has even started
    // waiting, the path where a connection could be closed twice.
    const linger abort_on_close{1, 0};
    ::setsockopt(client.fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    client.close();
  }
  daemon().proc().send_signal(SIGTERM);
  ASSERT_TRUE(daemon().proc().wait_exit_and_output(30s).has_value());
  const auto lines = daemon().events("access");
  std::set<std::string> ids;
  for (const auto& line : lines) ids.insert(line.get("conn"));
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(clients));
  EXPECT_EQ(lines.size(), static_cast<std::size_t>(clients)) << "some connection was logged twice";
}

TEST_F(proxying, access_line_reports_identity_and_exact_byte_counts) {
  loopback_server backend(echo_handler());
  start_in_front_of(backend);

  tls_client client(options());
  auto hs = client.connect(loopback, port());
  ASSERT_TRUE(hs.ok) << hs.error;
  const std::uint16_t client_port = local_port(client.fd());
  const std::string message(1000, 'm');
  ASSERT_TRUE(client.write_all(message).ok);
  EXPECT_EQ(client.read_exact(message.size()).data, message);
  const std::string more(234, 'n');
  ASSERT_TRUE(client.write_all(more).ok);
  EXPECT_EQ(client.read_exact(more.size()).data, more);
  ASSERT_TRUE(client.shutdown());
  EXPECT_EQ(client.read_until_eof().end, read_end::close_notify);

  auto a = daemon().wait_event("access");
  EXPECT_FALSE(a.get("conn").empty());
  EXPECT_EQ(a.get("svc"), "svc");
  EXPECT_EQ(a.get("peer"), "127.0.0.1:" + std::to_string(client_port));
  EXPECT_EQ(a.get("tls_version"), hs.version);
  EXPECT_EQ(a.get("cipher"), hs.cipher);
  EXPECT_EQ(a.get("verify"), "ok");
  EXPECT_NE(a.get("subject").find("client"), std::string::npos) << a.get("subject");
  EXPECT_NE(a.get("issuer").find("mtlsd test client CA"), std::string::npos) << a.get("issuer");
  EXPECT_TRUE(a.has("sans"));
  EXPECT_EQ(a.get("sha256"), leaf_.sha256_hex());
  EXPECT_EQ(a.get("backend"), backend.address());
  EXPECT_EQ(a.get("bytes_from_client"), "1234");
  EXPECT_EQ(a.get("bytes_to_client"), "1234");
  EXPECT_FALSE(a.get("duration_ms").empty());
  EXPECT_EQ(a.get("duration_ms").find_first_not_of("0123456789"), std::string::npos);
  EXPECT_EQ(a.get("close"), "client_closed");
}

TEST_F(proxying, access_line_lists_subject_alternative_names) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);
  cert_spec spec;
  spec.cn = {"with-sans"};
  spec.dns = {"api.partner.example"};
  spec.uri = {"spiffe://example.org/partner/a"};
  auto leaf = pki().client(spec);
  EXPECT_TRUE(connect_and_probe(client_identity::of(leaf)).admitted);
  const auto sans = d.wait_event("access").get("sans");
  EXPECT_NE(sans.find("api.partner.example"), std::string::npos) << sans;
  EXPECT_NE(sans.find("spiffe://example.org/partner/a"), std::string::npos) << sans;
}

TEST_F(proxying, plain_tcp_service_proxies_without_tls) {
  loopback_server backend(echo_handler());
  service_spec plain;
  plain.accept = "tcp://127.0.0.1:0";
  plain.connect = backend.connect_url();
  plain.tls_files = false;
  config_spec config;
  config.services.push_back(plain);
  auto& d = start(config);
  EXPECT_EQ(d.wait_event("listening").get("tls"), "false");

  std::string error;
  const int fd = tcp_connect(loopback, port(), 5s, &error);
  ASSERT_GE(fd, 0) << error;
  const std::string message = "plain bytes\n";
  ASSERT_EQ(::send(fd, message.data(), message.size(), MSG_NOSIGNAL), static_cast<ssize_t>(message.size()));
  ::shutdown(fd, SHUT_WR);
  std::string echoed;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buffer[256];
  for (int i = 0; i < 100; ++i) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    echoed.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  EXPECT_EQ(echoed, message);
  EXPECT_EQ(d.wait_event("access").get("bytes_from_client"), std::to_string(message.size()));
}

}  // namespace
}  // namespace mtlsd::test
