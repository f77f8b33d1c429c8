// tls::stream after the handshake: data both ways, TLS half-close in each
// direction, end of stream, cancellation, and large transfers through full
// socket buffers (the WANT_WRITE path) — over loopback TCP against a
// blocking OpenSSL client, with TLS 1.2 and TLS 1.3.

#include "mtlsd/tls/stream.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <future>
#include <string>
#include <thread>

#include "payload.hpp"
#include "tls_client.hpp"
#include "tls_test_support.hpp"

namespace mtlsd::test {
namespace {

using clock_type = std::chrono::steady_clock;

// Reads until `out` holds `n` bytes or the stream ends; the error that ended it.
asio::awaitable<boost::system::error_code> read_exactly(tls::stream& stream, std::size_t n, std::string& out) {
  char buffer[4096];
  for (int i = 0; out.size() < n && i < 100000; ++i) {
    auto [ec, got] = co_await stream.read_some(asio::buffer(buffer, std::min(sizeof buffer, n - out.size())));
    if (ec) co_return ec;
    out.append(buffer, got);
  }
  co_return boost::system::error_code{};
}

// Reads until the stream ends (or `limit` bytes); the error that ended it.
asio::awaitable<boost::system::error_code> read_to_end(tls::stream& stream, std::string& out,
                                                       std::size_t limit = 1 << 20) {
  char buffer[4096];
  for (int i = 0; out.size() <= limit && i < 100000; ++i) {
    auto [ec, got] = co_await stream.read_some(asio::buffer(buffer));
    if (ec) co_return ec;
    out.append(buffer, got);
  }
  co_return boost::system::error_code{};
}

// Lets every other ready coroutine on this (single-threaded) io_context run
// until `flag` is set; since a coroutine only stops at a wait, once `flag` is
// seen the coroutine that set it is suspended in I/O or finished.
asio::awaitable<bool> yield_until(const bool& flag) {
  for (int i = 0; !flag && i < 1000; ++i) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  co_return flag;
}

class tls_stream : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() {
    pki_ = new server_pki();
    leaf_ = new issued(issue(leaf_spec("stream-client"), pki_->client_ca));
  }
  static void TearDownTestSuite() {
    delete leaf_;
    delete pki_;
    leaf_ = nullptr;
    pki_ = nullptr;
  }

  tls_client_options client_options() const {
    tls_client_options options;
    options.identity = client_identity::of(*leaf_);
    options.min_version = GetParam();
    options.max_version = GetParam();
    return options;
  }

  static server_pki* pki_;
  static issued* leaf_;

  std::shared_ptr<const tls::server_context> context_ = must_build(make_service(*pki_));
  asio::io_context io_;
  tcp::acceptor acceptor_ = loopback_acceptor(io_);
  std::uint16_t port_ = acceptor_.local_endpoint().port();
  server_side server_;
  event server_done_;
};

server_pki* tls_stream::pki_ = nullptr;
issued* tls_stream::leaf_ = nullptr;

struct exchange_result {
  boost::system::error_code read_ec, write_ec;
  std::string received;
};

asio::awaitable<void> serve_ping_pong(tcp::acceptor& acceptor, const tls::server_context& context,
                                      server_side& server, exchange_result& r) {
  co_await accept_and_handshake(acceptor, context, server);
  if (server.handshake_error) co_return;
  r.read_ec = co_await read_exactly(*server.stream, 14, r.received);
  if (r.read_ec) co_return;
  r.write_ec = co_await server.stream->write_all(asio::buffer(std::string_view("pong 1\npong 2\n")));
}

TEST_P(tls_stream, data_flows_both_ways_in_order) {
  ASSERT_TRUE(context_);
  exchange_result r;
  auto client = std::async(std::launch::async, [&] {
    tls_client c(client_options());
    const auto hs = c.connect("127.0.0.1", port_);
    if (!hs.ok) return "connect: " + hs.error;
    if (!c.write_all("ping 1\n").ok || !c.write_all("ping 2\n").ok) return std::string("write failed");
    const auto reply = c.read_exact(14);
    server_done_.wait();
    return reply.data == "pong 1\npong 2\n" ? std::string() : "read " + reply.data + " / " + reply.error;
  });
  EXPECT_TRUE(run_to_completion(io_, serve_ping_pong(acceptor_, *context_, server_, r), &server_done_));
  ASSERT_EQ(client.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(client.get(), "");
  EXPECT_FALSE(server_.handshake_error) << server_.verdict.detail;
  EXPECT_FALSE(r.read_ec) << r.read_ec.message();
  EXPECT_FALSE(r.write_ec) << r.write_ec.message();
  EXPECT_EQ(r.received, "ping 1\nping 2\n");
}

struct half_close_result {
  boost::system::error_code write_ec, shutdown_ec, end_ec;
  std::string received;
};

asio::awaitable<void> serve_half_close(tcp::acceptor& acceptor, const tls::server_context& context,
                                       server_side& server, half_close_result& r) {
  co_await accept_and_handshake(acceptor, context, server);
  if (server.handshake_error) co_return;
  r.write_ec = co_await server.stream->write_all(asio::buffer(std::string_view("last words")));
  r.shutdown_ec = co_await server.stream->shutdown_send();
  r.end_ec = co_await read_to_end(*server.stream, r.received);
}

TEST_P(tls_stream, shutdown_send_sends_close_notify_and_the_client_can_still_send) {
  ASSERT_TRUE(context_);
  half_close_result r;
  struct client_view {
    std::string error;
    read_result before_close;
    bool reply_written = false;
    bool shutdown = false;
  };
  auto client = std::async(std::launch::async, [&] {
    client_view v;
    tls_client c(client_options());
    const auto hs = c.connect("127.0.0.1", port_);
    if (!hs.ok) {
      v.error = hs.error;
      return v;
    }
    v.before_close = c.read_until_eof();
    v.reply_written = c.write_all("reply after close_notify").ok;
    v.shutdown = c.shutdown();
    server_done_.wait();
    return v;
  });
  EXPECT_TRUE(run_to_completion(io_, serve_half_close(acceptor_, *context_, server_, r), &server_done_));
  ASSERT_EQ(client.wait_for(30s), std::future_status::ready);
  const client_view v = client.get();
  ASSERT_EQ(v.error, "");
  EXPECT_FALSE(r.write_ec) << r.write_ec.message();
  EXPECT_FALSE(r.shutdown_ec) << r.shutdown_ec.message();
  // The client saw all data, then close_notify (SSL_ERROR_ZERO_RETURN).
  EXPECT_EQ(v.before_close.data, "last words");
  EXPECT_EQ(v.before_close.end, read_end::close_notify) << v.before_close.error;
  // The other direction kept flowing until the client's own close_notify.
  EXPECT_TRUE(v.reply_written);
  EXPECT_TRUE(v.shutdown);
  EXPECT_EQ(r.received, "reply after close_notify");
  EXPECT_EQ(r.end_ec, asio::error::eof) << r.end_ec.message();
}

struct read_end_result {
  boost::system::error_code end_ec, after_end_ec;
  std::string received;
};

asio::awaitable<void> serve_read_to_end(tcp::acceptor& acceptor, const tls::server_context& context,
                                        server_side& server, read_end_result& r) {
  co_await accept_and_handshake(acceptor, context, server);
  if (server.handshake_error) co_return;
  r.end_ec = co_await read_to_end(*server.stream, r.received);
  // The server can still answer after the client's close_notify.
  r.after_end_ec = co_await server.stream->write_all(asio::buffer(std::string_view("answer")));
}

TEST_P(tls_stream, read_some_ends_with_eof_after_the_clients_close_notify) {
  ASSERT_TRUE(context_);
  read_end_result r;
  auto client = std::async(std::launch::async, [&] {
    tls_client c(client_options());
    const auto hs = c.connect("127.0.0.1", port_);
    if (!hs.ok) return "connect: " + hs.error;
    if (!c.write_all("all the data").ok || !c.shutdown()) return std::string("write/shutdown failed");
    const auto answer = c.read_exact(6);
    server_done_.wait();
    return answer.data == "answer" ? std::string() : "answer: " + answer.data + " / " + answer.error;
  });
  EXPECT_TRUE(run_to_completion(io_, serve_read_to_end(acceptor_, *context_, server_, r), &server_done_));
  ASSERT_EQ(client.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(client.get(), "");
  EXPECT_EQ(r.received, "all the data");
  EXPECT_EQ(r.end_ec, asio::error::eof) << r.end_ec.message();
  EXPECT_FALSE(r.after_end_ec) << r.after_end_ec.message();
}

TEST_P(tls_stream, read_some_ends_with_eof_when_the_client_closes_tcp_without_close_notify) {
  ASSERT_TRUE(context_);
  read_end_result r;
  auto client = std::async(std::launch::async, [&] {
    tls_client c(client_options());
    const auto hs = c.connect("127.0.0.1", port_);
    if (!hs.ok) return "connect: " + hs.error;
    if (!c.write_all("abrupt").ok) return std::string("write failed");
    // FIN without close_notify (shutdown(2) rather than close(2): unread
    // session tickets would turn a close into a reset).
    ::shutdown(c.fd(), SHUT_WR);
    server_done_.wait();
    return std::string();
  });
  EXPECT_TRUE(run_to_completion(io_, serve_read_to_end(acceptor_, *context_, server_, r), &server_done_));
  ASSERT_EQ(client.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(client.get(), "");
  EXPECT_EQ(r.received, "abrupt");
  EXPECT_EQ(r.end_ec, asio::error::eof) << r.end_ec.message();
}

struct cancel_result {
  bool reader_started = false;
  bool reader_done = false;
  bool pending_when_cancelled = false;
  clock_type::time_point cancelled_at, completed_at;
  boost::system::error_code read_ec, later_read_ec, later_write_ec, later_shutdown_ec;
};

asio::awaitable<void> pending_reader(tls::stream& stream, cancel_result& r, event& done) {
  char buffer[256];
  r.reader_started = true;
  auto [ec, n] = co_await stream.read_some(asio::buffer(buffer));
  r.completed_at = clock_type::now();
  r.reader_done = true;
  r.read_ec = ec;
  r.later_read_ec = (co_await stream.read_some(asio::buffer(buffer))).first;
  r.later_write_ec = co_await stream.write_all(asio::buffer(std::string_view("x")));
  r.later_shutdown_ec = co_await stream.shutdown_send();
  done.set();
}

asio::awaitable<void> serve_and_cancel(tcp::acceptor& acceptor, const tls::server_context& context,
                                       server_side& server, cancel_result& r, event& done) {
  co_await accept_and_handshake(acceptor, context, server);
  if (server.handshake_error) co_return;
  asio::co_spawn(co_await asio::this_coro::executor, pending_reader(*server.stream, r, done), asio::detached);
  co_await yield_until(r.reader_started);
  r.pending_when_cancelled = r.reader_started && !r.reader_done;
  r.cancelled_at = clock_type::now();
  server.stream->cancel();
}

TEST_P(tls_stream, cancel_completes_a_pending_read_with_operation_aborted_promptly) {
  ASSERT_TRUE(context_);
  cancel_result r;
  auto client = std::async(std::launch::async, [&] {
    tls_client c(client_options());
    const auto hs = c.connect("127.0.0.1", port_);
    // Sends nothing, holds the connection open until the server side is done.
    server_done_.wait();
    return hs.ok ? std::string() : "connect: " + hs.error;
  });
  EXPECT_TRUE(run_to_completion(io_, serve_and_cancel(acceptor_, *context_, server_, r, server_done_)));
  server_done_.set();
  ASSERT_EQ(client.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(client.get(), "");
  ASSERT_FALSE(server_.handshake_error) << server_.verdict.detail;
  EXPECT_TRUE(r.pending_when_cancelled);
  ASSERT_TRUE(r.reader_done);
  EXPECT_EQ(r.read_ec, asio::error::operation_aborted) << r.read_ec.message();
  EXPECT_LT(r.completed_at - r.cancelled_at, 1s);
  // Cancellation is sticky: every later operation is refused too.
  EXPECT_EQ(r.later_read_ec, asio::error::operation_aborted) << r.later_read_ec.message();
  EXPECT_EQ(r.later_write_ec, asio::error::operation_aborted) << r.later_write_ec.message();
  EXPECT_EQ(r.later_shutdown_ec, asio::error::operation_aborted) << r.later_shutdown_ec.message();
}

constexpr std::size_t large = 8u << 20;

struct large_write_result {
  bool writer_started = false;
  bool writer_done = false;
  bool blocked_before_reader = false;
  boost::system::error_code write_ec;
};

asio::awaitable<void> large_writer(tls::stream& stream, const std::string& payload, large_write_result& r,
                                   event& done) {
  r.writer_started = true;
  r.write_ec = co_await stream.write_all(asio::buffer(payload));
  r.writer_done = true;
  done.set();
}

asio::awaitable<void> serve_large(tcp::acceptor& acceptor, const tls::server_context& context, server_side& server,
                                  const std::string& payload, large_write_result& r, event& reader_may_start,
                                  event& done) {
  co_await accept_and_handshake(acceptor, context, server);
  if (server.handshake_error) co_return;
  // A small send buffer makes the writer meet a full socket early.
  server.stream->socket().set_option(asio::socket_base::send_buffer_size(32 * 1024));
  asio::co_spawn(co_await asio::this_coro::executor, large_writer(*server.stream, payload, r, done), asio::detached);
  co_await yield_until(r.writer_started);
  // Single-threaded: the writer is either finished or suspended waiting for
  // the socket to become writable, i.e. SSL_write said WANT_WRITE.
  r.blocked_before_reader = !r.writer_done;
  reader_may_start.set();
}

TEST_P(tls_stream, large_transfer_to_a_late_reader_arrives_intact) {
  ASSERT_TRUE(context_);
  const std::string payload = payload_source::make(large, 42);
  large_write_result r;
  event reader_may_start;
  auto client = std::async(std::launch::async, [&] {
    tls_client c(client_options());
    const auto hs = c.connect("127.0.0.1", port_);
    if (!hs.ok) return stream_result{0, "", read_end::error, "connect: " + hs.error};
    reader_may_start.wait();
    auto got = c.read_stream(large);
    server_done_.wait();
    return got;
  });
  EXPECT_TRUE(run_to_completion(io_, serve_large(acceptor_, *context_, server_, payload, r, reader_may_start,
                                                 server_done_)));
  server_done_.set();
  reader_may_start.set();
  ASSERT_EQ(client.wait_for(60s), std::future_status::ready);
  const stream_result got = client.get();
  EXPECT_TRUE(r.blocked_before_reader) << "the writer never met a full socket";
  EXPECT_TRUE(r.writer_done);
  EXPECT_FALSE(r.write_ec) << r.write_ec.message();
  EXPECT_EQ(got.bytes, large) << got.error;
  EXPECT_EQ(got.sha256, sha256_hex(payload));
}

struct both_ways_result {
  large_write_result write;
  boost::system::error_code read_ec;
  sha256_hasher received;
  std::uint64_t received_bytes = 0;
  bool reader_done = false;
};

asio::awaitable<void> large_reader(tls::stream& stream, both_ways_result& r) {
  std::vector<char> buffer(16 * 1024);
  for (int i = 0; r.received_bytes < large && i < 1000000; ++i) {
    auto [ec, n] = co_await stream.read_some(asio::buffer(buffer));
    if (ec) {
      r.read_ec = ec;
      break;
    }
    r.received.update(buffer.data(), n);
    r.received_bytes += n;
  }
  r.reader_done = true;
}

asio::awaitable<void> serve_both_ways(tcp::acceptor& acceptor, const tls::server_context& context,
                                      server_side& server, const std::string& payload, both_ways_result& r,
                                      event& writer_done) {
  co_await accept_and_handshake(acceptor, context, server);
  if (server.handshake_error) co_return;
  const auto executor = co_await asio::this_coro::executor;
  // One reader and one writer coroutine on the same stream at once, as a
  // session's two splice directions use it.
  asio::co_spawn(executor, large_writer(*server.stream, payload, r.write, writer_done), asio::detached);
  asio::co_spawn(executor, large_reader(*server.stream, r), asio::detached);
}

TEST_P(tls_stream, simultaneous_large_transfers_in_both_directions_arrive_intact) {
  ASSERT_TRUE(context_);
  const std::string to_client = payload_source::make(large, 7);
  payload_source from_client(large, 8);
  const std::string from_client_sha = from_client.expected_sha256();
  both_ways_result r;
  event writer_done;
  struct client_view {
    std::string error;
    stream_result got;
    write_result sent;
  };
  auto client = std::async(std::launch::async, [&] {
    client_view v;
    tls_client c(client_options());
    const auto hs = c.connect("127.0.0.1", port_);
    if (!hs.ok) {
      v.error = "connect: " + hs.error;
      return v;
    }
    std::thread writer([&] { v.sent = c.write_stream(from_client); });
    v.got = c.read_stream(large);
    writer.join();
    server_done_.wait();
    return v;
  });
  EXPECT_TRUE(run_to_completion(io_, serve_both_ways(acceptor_, *context_, server_, to_client, r, writer_done),
                                nullptr, 60s));
  server_done_.set();
  ASSERT_EQ(client.wait_for(60s), std::future_status::ready);
  const client_view v = client.get();
  ASSERT_EQ(v.error, "");
  EXPECT_TRUE(r.write.writer_done);
  EXPECT_FALSE(r.write.write_ec) << r.write.write_ec.message();
  EXPECT_EQ(v.got.bytes, large) << v.got.error;
  EXPECT_EQ(v.got.sha256, sha256_hex(to_client));
  EXPECT_TRUE(v.sent.ok) << v.sent.error;
  EXPECT_TRUE(r.reader_done);
  EXPECT_FALSE(r.read_ec) << r.read_ec.message();
  EXPECT_EQ(r.received_bytes, large);
  EXPECT_EQ(r.received.hex(), from_client_sha);
}

INSTANTIATE_TEST_SUITE_P(versions, tls_stream, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return p.param == TLS1_3_VERSION ? std::string("tls13") : std::string("tls12");
                         });

}  // namespace
}  // namespace mtlsd::test
