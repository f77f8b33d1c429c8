// mtlsd with the tools people actually use against it: the mtlsd-echo demo
// backend, `openssl s_client` and `curl`.

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

std::uint16_t port_of_listening_line(const std::string& line) {
  return static_cast<std::uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
}

// Reads until EOF (bounded), with a receive timeout on the socket.
std::string read_all(int fd) {
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  char buffer[4096];
  for (int i = 0; i < 1000; ++i) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

TEST(mtlsd_echo, echoes_everything_then_closes_after_the_client_half_closes) {
  process echo({echo_binary, "--listen", "127.0.0.1:0"});
  const auto port = port_of_listening_line(echo.wait_for_line(rx("^listening 127\\.0\\.0\\.1:[0-9]+$"), 5s));
  ASSERT_NE(port, 0);
  std::string error;
  const int fd = tcp_connect(loopback, port, 5s, &error);
  ASSERT_GE(fd, 0) << error;
  const std::string payload = payload_source::make(300 * 1024, 9);
  // Small enough to sit in socket buffers while nobody reads, so one thread will do.
  ASSERT_EQ(::send(fd, payload.data(), payload.size(), MSG_NOSIGNAL), static_cast<ssize_t>(payload.size()));
  ::shutdown(fd, SHUT_WR);
  const std::string echoed = read_all(fd);
  ::close(fd);
  EXPECT_EQ(echoed.size(), payload.size());
  EXPECT_TRUE(echoed == payload);

  echo.send_signal(SIGTERM);
  EXPECT_EQ(echo.wait_exit(5s), 0);
}

TEST(mtlsd_echo, help_exits_zero_and_documents_listen) {
  auto r = run_command({echo_binary, "--help"}, 5s);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--listen"), std::string::npos);
}

TEST(mtlsd_echo, rejects_a_bad_listen_address) {
  auto r = run_command({echo_binary, "--listen", "nonsense"}, 5s);
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(r.err.empty());
}

class tools : public mtlsd_test {
 protected:
  void SetUp() override {
    for (const char* program : {"openssl", "curl"}) {
      if (!have_program(program)) GTEST_SKIP() << program << " is not installed";
    }
  }
};

// The README demo: mtlsd in front of mtlsd-echo, driven by openssl s_client.
TEST_F(tools, openssl_s_client_with_client_cert_gets_an_echo) {
  process echo({echo_binary, "--listen", "127.0.0.1:0"});
  const auto echo_port = port_of_listening_line(echo.wait_for_line(rx("^listening "), 5s));
  config_spec config;
  config.services.push_back(service("tcp://127.0.0.1:" + std::to_string(echo_port)));
  auto& d = start(config);
  pki().write_client("client", pki().client());

  process client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port()), "-cert",
                  (dir_ / "client.crt").string(), "-key", (dir_ / "client.key").string(), "-CAfile",
                  pki().server_ca_file().string(), "-verify_return_error", "-quiet", "-no_ign_eof"},
                 in_path());
  ASSERT_TRUE(client.write_stdin("hello through mtlsd\n"));
  EXPECT_NO_THROW(client.wait_for_line(rx("^hello through mtlsd$"), 10s));
  client.close_stdin();
  EXPECT_EQ(client.wait_exit(10s), 0) << client.describe();
  EXPECT_EQ(d.wait_event("access").get("verify"), "ok");
}

TEST_F(tools, openssl_s_client_without_client_cert_is_refused) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);

  process client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port()), "-CAfile",
                  pki().server_ca_file().string(), "-quiet", "-no_ign_eof"},
                 in_path());
  client.write_stdin("should not come back\n");
  auto status = client.wait_exit_and_output(10s);
  ASSERT_TRUE(status.has_value()) << client.describe();
  EXPECT_NE(*status, 0);
  EXPECT_TRUE(client.matching_lines(rx("^should not come back$")).empty());
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "no_certificate");
  EXPECT_EQ(backend.accepted(), 0u);
}

// A one-shot HTTP responder: reads the request head, answers, closes.
connection_handler http_responder(std::string body) {
  return [body](backend_connection& c) {
    std::string request;
    char buffer[4096];
    for (int i = 0; i < 100 && request.find("\r\n\r\n") == std::string::npos; ++i) {
      const long n = c.receive(buffer, sizeof buffer);
      if (n <= 0) return;
      request.append(buffer, static_cast<std::size_t>(n));
    }
    c.send_all("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\nConnection: close\r\n\r\n" + body);
    c.send_fin();
  };
}

TEST_F(tools, curl_with_client_cert_gets_the_backend_response) {
  loopback_server backend(http_responder("hello from the backend\n"));
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);
  pki().write_client("client", pki().client());

  auto r = run_command({"curl", "--silent", "--show-error", "--max-time", "10", "--cacert",
                        pki().server_ca_file().string(), "--cert", (dir_ / "client.crt").string(), "--key",
                        (dir_ / "client.key").string(), "https://127.0.0.1:" + std::to_string(port()) + "/"},
                       20s, {}, in_path());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hello from the backend\n");
  EXPECT_EQ(d.wait_event("access").get("verify"), "ok");
}

TEST_F(tools, curl_without_client_cert_fails) {
  loopback_server backend(http_responder("secret\n"));
  config_spec config;
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);

  auto r = run_command({"curl", "--silent", "--show-error", "--max-time", "10", "--cacert",
                        pki().server_ca_file().string(), "https://127.0.0.1:" + std::to_string(port()) + "/"},
                       20s, {}, in_path());
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out.find("secret"), std::string::npos);
  // The partner must see why: the TLS 1.3 alert, not a reset connection.
  EXPECT_NE(r.err.find("alert certificate required"), std::string::npos) << r.err;
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "no_certificate");
  EXPECT_EQ(backend.accepted(), 0u);
}

}  // namespace
}  // namespace mtlsd::test
