// The admin endpoint over plain HTTP, driven by real clients: a raw socket
// client (exact bytes, exact headers) and curl.

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <stdexcept>

#include "endpoint_test_support.hpp"
#include "tls_client.hpp"

namespace mtlsd::test {
namespace {

namespace asio = boost::asio;

const admin::response metrics_page{200, "text/plain; version=0.0.4", "requests_total 7\n"};
const admin::response status_page{200, "application/json", "{\"ready\":true}"};

class admin_http : public ::testing::Test {
 protected:
  admin_http() {
    routes.add("/metrics", metrics_page);
    routes.add("/status", status_page);
    routes.add("/unavailable", {503, "text/plain; charset=utf-8", "draining\n"});
    routes.add_throwing("/broken");
  }

  route_table routes;
};

TEST_F(admin_http, get_answers_with_the_route_status_body_and_headers) {
  running_endpoint ep(routes.handler());
  http_client client(ep.port());
  ASSERT_TRUE(client.connected()) << client.error();
  ASSERT_TRUE(client.send(request("GET", "/metrics")));
  const auto r = client.read_response();
  ASSERT_TRUE(r) << client.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->version, "HTTP/1.1");
  EXPECT_EQ(r->body, metrics_page.body);
  EXPECT_EQ(r->header("content-type"), metrics_page.content_type);
  EXPECT_EQ(r->header("content-length"), std::to_string(metrics_page.body.size()));
  EXPECT_EQ(r->header("cache-control"), "no-store");
  EXPECT_EQ(r->header("server"), "mtlsd");
  EXPECT_TRUE(r->header("date").has_value());
  EXPECT_EQ(r->count("content-length"), 1u);
  EXPECT_EQ(routes.calls(), std::vector<std::string>{"/metrics"});
}

TEST_F(admin_http, curl_gets_the_route_body_status_and_content_type) {
  running_endpoint ep(routes.handler());
  const std::string base = "http://127.0.0.1:" + std::to_string(ep.port());
  const auto ok = curl({"-o", "-", "-w", "\n%{http_code} %{content_type}\n", base + "/status"});
  if (!ok) GTEST_SKIP() << "curl is not installed";
  EXPECT_EQ(ok->status, 0) << ok->err;
  EXPECT_EQ(ok->out, status_page.body + "\n200 application/json\n");

  // The route's status passes through, whatever it is.
  const auto missing = curl({"-o", "-", "-w", "\n%{http_code}\n", base + "/nowhere"});
  EXPECT_EQ(missing->out, "not found\n\n404\n");
  const auto unavailable = curl({"-o", "-", "-w", "\n%{http_code}\n", base + "/unavailable"});
  EXPECT_EQ(unavailable->out, "draining\n\n503\n");
}

TEST_F(admin_http, routes_see_the_path_without_the_query) {
  running_endpoint ep(routes.handler());
  http_client client(ep.port());
  ASSERT_TRUE(client.connected()) << client.error();
  ASSERT_TRUE(client.send(request("GET", "/metrics?name[]=requests_total&x=1")));
  const auto origin_form = client.read_response();
  ASSERT_TRUE(origin_form) << client.error();
  EXPECT_EQ(origin_form->status, 200);
  // Absolute-form, as a request through a forward proxy arrives (RFC 9112 3.2.2).
  ASSERT_TRUE(client.send(request("GET", "http://127.0.0.1:9090/status?verbose")));
  const auto absolute_form = client.read_response();
  ASSERT_TRUE(absolute_form) << client.error();
  EXPECT_EQ(absolute_form->body, status_page.body);
  EXPECT_EQ(routes.calls(), (std::vector<std::string>{"/metrics", "/status"}));
}

TEST_F(admin_http, head_sends_the_get_headers_without_the_body) {
  running_endpoint ep(routes.handler());
  http_client client(ep.port());
  ASSERT_TRUE(client.connected()) << client.error();
  // A HEAD followed by a GET on the same connection: if the HEAD answer
  // carried a body, its bytes would be read as the start of the second response.
  ASSERT_TRUE(client.send(request("HEAD", "/metrics")));
  const auto head = client.read_response(true);
  ASSERT_TRUE(head) << client.error();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), std::to_string(metrics_page.body.size()));
  EXPECT_EQ(head->header("content-type"), metrics_page.content_type);
  EXPECT_EQ(head->header("cache-control"), "no-store");

  ASSERT_TRUE(client.send(request("GET", "/status")));
  const auto get = client.read_response();
  ASSERT_TRUE(get) << client.error();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, status_page.body);
}

TEST_F(admin_http, other_methods_get_405_with_allow_and_no_route_call) {
  running_endpoint ep(routes.handler());
  for (const std::string method : {"POST", "DELETE", "PUT", "OPTIONS", "BREW"}) {
    SCOPED_TRACE(method);
    http_client client(ep.port());
    ASSERT_TRUE(client.connected()) << client.error();
    ASSERT_TRUE(client.send(request(method, "/metrics", "Content-Length: 5\r\n") + "hello"));
    const auto r = client.read_response();
    ASSERT_TRUE(r) << client.error();
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->header("allow"), "GET, HEAD");
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(client.closed_by_server());
  }
  EXPECT_TRUE(routes.calls().empty());

  const std::string url = "http://127.0.0.1:" + std::to_string(ep.port()) + "/metrics";
  const auto posted = curl({"-o", "/dev/null", "-w", "%{http_code}\n", "-X", "POST", "-d", "x=1", url});
  if (!posted) GTEST_SKIP() << "curl is not installed";
  EXPECT_EQ(posted->out, "405\n");
}

TEST_F(admin_http, keep_alive_serves_several_requests_on_one_connection) {
  running_endpoint ep(routes.handler());
  http_client client(ep.port());
  ASSERT_TRUE(client.connected()) << client.error();
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(client.send(request("GET", "/metrics")));
    const auto r = client.read_response();
    ASSERT_TRUE(r) << client.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, metrics_page.body);
    EXPECT_NE(r->header("connection"), "close");
  }
  // Pipelined: both requests in one write, answered in order.
  ASSERT_TRUE(client.send(request("GET", "/status") + request("GET", "/metrics")));
  const auto first = client.read_response();
  const auto second = client.read_response();
  ASSERT_TRUE(first && second) << client.error();
  EXPECT_EQ(first->body, status_page.body);
  EXPECT_EQ(second->body, metrics_page.body);
  EXPECT_EQ(routes.calls().size(), 5u);
}

TEST_F(admin_http, connection_close_is_honoured) {
  running_endpoint ep(routes.handler());
  http_client client(ep.port());
  ASSERT_TRUE(client.connected()) << client.error();
  ASSERT_TRUE(client.send(request("GET", "/metrics", "Connection: close\r\n")));
  const auto r = client.read_response();
  ASSERT_TRUE(r) << client.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, metrics_page.body);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(admin_http, http_1_0_closes_unless_keep_alive_is_asked_for) {
  running_endpoint ep(routes.handler());
  {
    http_client client(ep.port());
    ASSERT_TRUE(client.connected()) << client.error();
    ASSERT_TRUE(client.send("GET /metrics HTTP/1.0\r\n\r\n"));
    const auto r = client.read_response();
    ASSERT_TRUE(r) << client.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->version, "HTTP/1.0");
    EXPECT_TRUE(client.closed_by_server());
  }
  http_client client(ep.port());
  ASSERT_TRUE(client.connected()) << client.error();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(client.send("GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    const auto r = client.read_response();
    ASSERT_TRUE(r) << client.error();
    EXPECT_EQ(r->header("connection"), "keep-alive");
  }
}

TEST_F(admin_http, garbage_gets_400_and_close) {
  // The start of a TLS ClientHello, as from a client that assumed https.
  static constexpr char tls_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n";
  running_endpoint ep(routes.handler());
  for (const std::string& garbage : {std::string("this is not http\r\n\r\n"),
                                    std::string("GET /metrics HTTP/1.1 trailing\r\nHost: admin\r\n\r\n"),
                                    std::string("GET /metrics HTTP/2.0\r\nHost: admin\r\n\r\n"),
                                    std::string("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n"),
                                    std::string(tls_hello, sizeof tls_hello - 1)}) {
    SCOPED_TRACE(garbage);
    http_client client(ep.port());
    ASSERT_TRUE(client.connected()) << client.error();
    ASSERT_TRUE(client.send(garbage));
    const auto r = client.read_response();
    ASSERT_TRUE(r) << client.error();
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(client.closed_by_server());
  }
  EXPECT_TRUE(routes.calls().empty());
}

TEST_F(admin_http, http_1_1_without_host_or_with_a_bad_target_gets_400) {
  running_endpoint ep(routes.handler());
  for (const std::string& bad : {std::string("GET /metrics HTTP/1.1\r\n\r\n"),
                                std::string("GET * HTTP/1.1\r\nHost: admin\r\n\r\n"),
                                std::string("GET metrics HTTP/1.1\r\nHost: admin\r\n\r\n")}) {
    SCOPED_TRACE(bad);
    http_client client(ep.port());
    ASSERT_TRUE(client.connected()) << client.error();
    ASSERT_TRUE(client.send(bad));
    const auto r = client.read_response();
    ASSERT_TRUE(r) << client.error();
    EXPECT_EQ(r->status, 400);
    EXPECT_TRUE(client.closed_by_server());
  }
  EXPECT_TRUE(routes.calls().empty());
}

TEST_F(admin_http, oversized_header_gets_431_and_close) {
  running_endpoint ep(routes.handler());
  http_client client(ep.port());
  ASSERT_TRUE(client.connected()) << client.error();
  ASSERT_TRUE(client.send(request("GET", "/metrics", "X-Padding: " + std::string(10 * 1024, 'a') + "\r\n")));
  const auto r = client.read_response();
  ASSERT_TRUE(r) << client.error();
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_TRUE(routes.calls().empty());

  // A large but acceptable header is fine.
  http_client within(ep.port());
  ASSERT_TRUE(within.connected()) << within.error();
  ASSERT_TRUE(within.send(request("GET", "/metrics", "X-Padding: " + std::string(6 * 1024, 'a') + "\r\n")));
  const auto accepted = within.read_response();
  ASSERT_TRUE(accepted) << within.error();
  EXPECT_EQ(accepted->status, 200);
}

TEST_F(admin_http, oversized_body_gets_413_and_close) {
  running_endpoint ep(routes.handler());
  http_client client(ep.port());
  ASSERT_TRUE(client.connected()) << client.error();
  ASSERT_TRUE(client.send(request("GET", "/metrics", "Content-Length: 10000\r\n") + std::string(10000, 'b')));
  const auto r = client.read_response();
  ASSERT_TRUE(r) << client.error();
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_TRUE(routes.calls().empty());
}

TEST_F(admin_http, a_route_that_throws_answers_500_and_the_connection_goes_on) {
  running_endpoint ep(routes.handler());
  http_client client(ep.port());
  ASSERT_TRUE(client.connected()) << client.error();
  ASSERT_TRUE(client.send(request("GET", "/broken")));
  const auto failed = client.read_response();
  ASSERT_TRUE(failed) << client.error();
  EXPECT_EQ(failed->status, 500);
  ASSERT_TRUE(client.send(request("GET", "/metrics")));
  const auto next = client.read_response();
  ASSERT_TRUE(next) << client.error();
  EXPECT_EQ(next->status, 200);
}

TEST_F(admin_http, slow_and_idle_clients_are_closed_after_read_timeout) {
  admin::endpoint_options options;
  options.read_timeout = std::chrono::milliseconds(300);
  running_endpoint ep(routes.handler(), options);

  // Half a request, then nothing.
  const auto started = std::chrono::steady_clock::now();
  http_client slow(ep.port());
  ASSERT_TRUE(slow.connected()) << slow.error();
  ASSERT_TRUE(slow.send("GET /metrics HTTP/1.1\r\nHost: admin\r\n"));
  EXPECT_TRUE(slow.closed_by_server(10s));
  EXPECT_GE(std::chrono::steady_clock::now() - started, options.read_timeout);

  // A keep-alive connection that stays quiet after its answer.
  http_client idle(ep.port());
  ASSERT_TRUE(idle.connected()) << idle.error();
  ASSERT_TRUE(idle.send(request("GET", "/metrics")));
  ASSERT_TRUE(idle.read_response()) << idle.error();
  const auto answered = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle.closed_by_server(10s));
  // The deadline restarts after each answer (minus scheduling slack).
  EXPECT_GE(std::chrono::steady_clock::now() - answered, options.read_timeout - std::chrono::milliseconds(50));
  EXPECT_TRUE(routes.calls() == std::vector<std::string>{"/metrics"});
}

TEST_F(admin_http, connections_beyond_max_clients_are_closed_at_once) {
  admin::endpoint_options options;
  options.max_clients = 2;
  running_endpoint ep(routes.handler(), options);

  // Two clients, each proven served (so counted) before the third comes.
  http_client first(ep.port()), second(ep.port());
  for (auto* c : {&first, &second}) {
    ASSERT_TRUE(c->connected()) << c->error();
    ASSERT_TRUE(c->send(request("GET", "/metrics")));
    ASSERT_TRUE(c->read_response()) << c->error();
  }
  http_client third(ep.port());
  ASSERT_TRUE(third.connected()) << third.error();
  EXPECT_TRUE(third.closed_by_server());

  // The two admitted ones are unaffected.
  ASSERT_TRUE(first.send(request("GET", "/status")));
  const auto still = first.read_response();
  ASSERT_TRUE(still) << first.error();
  EXPECT_EQ(still->status, 200);

  // Once one leaves, a newcomer is served. The endpoint learns of the close
  // asynchronously, so a newcomer may still be turned away for a moment.
  first.close();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  bool served = false;
  for (int attempt = 0; attempt < 1000 && !served && std::chrono::steady_clock::now() < deadline; ++attempt) {
    http_client late(ep.port());
    if (!late.connected() || !late.send(request("GET", "/metrics"))) continue;
    const auto r = late.read_response();
    served = r && r->status == 200;
  }
  EXPECT_TRUE(served);
}

TEST_F(admin_http, stop_ends_every_connection_and_lets_run_return) {
  running_endpoint ep(routes.handler());
  http_client idle(ep.port()), partial(ep.port());
  ASSERT_TRUE(idle.connected() && partial.connected());
  ASSERT_TRUE(idle.send(request("GET", "/metrics")));
  ASSERT_TRUE(idle.read_response()) << idle.error();
  ASSERT_TRUE(partial.send("GET /status HTTP/1.1\r\n"));
  // The default read_timeout (10 s) is far away: only stop() can end these.
  const auto before = std::chrono::steady_clock::now();
  ASSERT_TRUE(ep.stop_and_wait(5s)) << "io_context::run() did not return after stop()";
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);
  EXPECT_TRUE(idle.closed_by_server(1s));
  EXPECT_TRUE(partial.closed_by_server(1s));
  // The listening socket is closed too.
  http_client after(ep.port());
  EXPECT_FALSE(after.connected());
  EXPECT_EQ(routes.calls(), std::vector<std::string>{"/metrics"});
}

TEST_F(admin_http, binding_an_address_in_use_throws_naming_it) {
  running_endpoint ep(routes.handler());
  asio::io_context io;
  const asio::ip::tcp::endpoint taken(asio::ip::make_address("127.0.0.1"), ep.port());
  try {
    admin::endpoint second(io, taken, nullptr, routes.handler());
    FAIL() << "a second endpoint bound a port in use";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(ep.port())), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mtlsd::test
