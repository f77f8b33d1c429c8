// Owner: fetch module tests. The revocation HTTP client against loopback
// servers that answer well, badly, too much or not at all.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "backends.hpp"
#include "mtlsd/fetch/http_client.hpp"

namespace mtlsd::test {
namespace {

using fetch::http_request;
using fetch::http_result;
using fetch::parse_http_url;

TEST(http_url, accepts_http_urls_in_their_usual_forms) {
  std::string error;
  auto u = parse_http_url("http://crl.example.com/ca.crl", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->host, "crl.example.com");
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->target, "/ca.crl");
  u = parse_http_url("HTTP://127.0.0.1:8080", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->port, "8080");
  EXPECT_EQ(u->target, "/");
  u = parse_http_url("http://[::1]:81/a?b=c", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, "81");
  EXPECT_EQ(u->target, "/a?b=c");
}

TEST(http_url, refuses_what_it_cannot_fetch) {
  const std::pair<const char*, const char*> bad[] = {
      {"https://crl.example.com/ca.crl", "https:// is not supported"},
      {"ldap://ldap.example.com/cn=CA", "expected an http:// URL"},
      {"http://user@host/x", "user information"},
      {"http://host:0/x", "invalid port 0"},
      {"http://host:99999/x", "invalid port"},
      {"http:///x", "missing host"},
      {"http://[::1/x", "unterminated IPv6 address"},
      {"http://host/a b", "spaces and control characters"},
  };
  for (const auto& [text, message] : bad) {
    std::string error;
    EXPECT_FALSE(parse_http_url(text, error)) << text;
    EXPECT_NE(error.find(message), std::string::npos) << text << ": " << error;
  }
}

// Answers each request with `response` once the request's headers are in.
connection_handler answer_with(std::string response) {
  return [response](backend_connection& c) {
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const long n = c.receive(buffer, sizeof buffer);
      if (n <= 0) return;
      request.append(buffer, static_cast<std::size_t>(n));
    }
    c.note(request.substr(0, request.find("\r\n\r\n")));
    c.send_all(response);
    c.send_fin();
  };
}

http_result run(http_request request) {
  boost::asio::io_context io;
  http_result out;
  boost::asio::co_spawn(io, fetch::http_fetch(std::move(request)), [&](std::exception_ptr e, http_result r) {
    if (e) std::rethrow_exception(e);
    out = std::move(r);
  });
  io.run();
  return out;
}

http_request get(const std::string& url) {
  http_request request;
  std::string error;
  request.url = *parse_http_url(url, error);
  return request;
}

TEST(http_fetch, returns_the_body_of_a_200_answer) {
  const std::string body(70000, 'x');
  loopback_server server(answer_with("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                                     "\r\nContent-Type: application/pkix-crl\r\n\r\n" + body));
  const auto r = run(get("http://" + server.address() + "/ca.crl"));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, body);
  const auto records = server.wait_finished(1);
  ASSERT_FALSE(records[0].events.empty());
  const std::string& head = records[0].events.front();
  EXPECT_TRUE(head.starts_with("GET /ca.crl HTTP/1.1\r\n")) << head;
  EXPECT_NE(head.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port())), std::string::npos) << head;
}

TEST(http_fetch, posts_a_body_with_its_content_type) {
  loopback_server server(answer_with("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  auto request = get("http://" + server.address() + "/");
  request.method = "POST";
  request.content_type = "application/ocsp-request";
  request.body = std::string("\x30\x03\x02\x01\x00", 5);
  const auto r = run(request);
  EXPECT_TRUE(r.ok) << r.error;
  const auto records = server.wait_finished(1);
  const std::string& head = records[0].events.front();
  EXPECT_TRUE(head.starts_with("POST / HTTP/1.1\r\n")) << head;
  EXPECT_NE(head.find("Content-Type: application/ocsp-request"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Length: 5"), std::string::npos) << head;
}

TEST(http_fetch, a_status_other_than_200_is_a_failure_that_names_it) {
  loopback_server server(answer_with("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
  const auto r = run(get("http://" + server.address() + "/missing.crl"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, 404u);
  EXPECT_NE(r.error.find("answered HTTP 404"), std::string::npos) << r.error;
}

TEST(http_fetch, an_answer_over_the_limit_is_refused) {
  loopback_server server(answer_with("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'x')));
  auto request = get("http://" + server.address() + "/big.crl");
  request.max_body = 4096;
  const auto r = run(request);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("larger than 4096 bytes"), std::string::npos) << r.error;
}

TEST(http_fetch, a_server_that_never_answers_is_given_up_at_the_deadline) {
  loopback_server server([](backend_connection& c) { c.receive_to_end(); });
  auto request = get("http://" + server.address() + "/slow.crl");
  request.timeout = std::chrono::milliseconds(300);
  const auto started = std::chrono::steady_clock::now();
  const auto r = run(request);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no answer within the time limit"), std::string::npos) << r.error;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5)) << "the deadline did not hold";
}

TEST(http_fetch, a_closed_port_fails_fast_with_the_reason) {
  const auto r = run(get("http://127.0.0.1:" + std::to_string(closed_port()) + "/ca.crl"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, 0u);
  EXPECT_NE(r.error.find("cannot connect to 127.0.0.1:"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace mtlsd::test
