// relay: one direction of a proxied connection between two tcp_streams over
// loopback. Everything runs on one io_context; the test's own peers are
// coroutines on it too, so no thread and no sleep decides an outcome.

#include "mtlsd/proxy/relay.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mtlsd/proxy/tcp_stream.hpp"

namespace mtlsd::proxy {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// Two connected loopback sockets. The listening socket's backlog completes
// the connection, so the blocking connect and accept return at once.
std::pair<tcp::socket, tcp::socket> connected_pair(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket a(io);
  a.connect(acceptor.local_endpoint());
  tcp::socket b = acceptor.accept();
  return {std::move(a), std::move(b)};
}

std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  std::uint32_t x = 2463534242u;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

// The relay between `source` (fed by source_peer) and `sink` (drained by sink_peer).
struct relay_rig {
  asio::io_context io;
  tcp::socket source_peer{io}, sink_peer{io};
  std::optional<tcp_stream> source, sink;
  clock_type::time_point last_activity = clock_type::time_point::min();
  mtlsd::metrics::counter moved;  // the service byte counter the relay feeds
  std::optional<relay> under_test;
  std::optional<relay_end> end;
  // Closes both peers once the relay has ended, ending whatever they still wait for.
  bool close_peers_at_end = false;
  // Stands in for the session the relay keeps alive while it waits.
  std::shared_ptr<int> owner = std::make_shared<int>(0);

  relay_rig() {
    auto [a, b] = connected_pair(io);
    source_peer = std::move(a);
    source.emplace(std::move(b));
    auto [c, d] = connected_pair(io);
    sink.emplace(std::move(c));
    sink_peer = std::move(d);
    under_test.emplace(*source, *sink, last_activity, moved);
  }

  void start() {
    under_test->start(owner, &relay_rig::ended, this);
  }

  static void ended(void* self, relay_end how) {
    auto& rig = *static_cast<relay_rig*>(self);
    rig.end = how;
    if (rig.close_peers_at_end) {
      boost::system::error_code ignored;
      rig.source_peer.close(ignored);
      rig.sink_peer.close(ignored);
    }
  }

  std::uint64_t bytes() const { return under_test->bytes(); }

  // Runs until every handler is done; false when that took longer than `limit`.
  bool run_all(std::chrono::seconds limit = 30s) {
    io.run_for(limit);
    return io.stopped();
  }
};

const char* name(std::optional<relay_end> end) {
  if (!end) return "still running";
  switch (*end) {
    case relay_end::source_eof: return "source_eof";
    case relay_end::source_error: return "source_error";
    case relay_end::sink_error: return "sink_error";
  }
  return "?";
}

// Coroutine parameters are taken by value: a reference to a temporary would dangle.
asio::awaitable<void> write_then_fin(tcp::socket& socket, std::string data, std::size_t chunk) {
  for (std::size_t at = 0; at < data.size(); at += chunk) {
    const auto n = std::min(chunk, data.size() - at);
    auto [ec, written] =
        co_await asio::async_write(socket, asio::buffer(data.data() + at, n), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
  }
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
}

struct drained {
  std::string data;
  boost::system::error_code end;
};

asio::awaitable<void> read_until_end(tcp::socket& socket, drained& out) {
  std::vector<char> buffer(64 * 1024);
  for (int i = 0; i < 1000000; ++i) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
    out.data.append(buffer.data(), n);
    if (ec) {
      out.end = ec;
      co_return;
    }
  }
}

TEST(relay, forwards_every_byte_in_order_counts_them_and_passes_eof_on_as_fin) {
  relay_rig rig;
  const std::string data = pattern(4 << 20);
  drained out;
  rig.start();
  asio::co_spawn(rig.io, write_then_fin(rig.source_peer, data, 3001), asio::detached);
  asio::co_spawn(rig.io, read_until_end(rig.sink_peer, out), asio::detached);
  ASSERT_TRUE(rig.run_all());

  EXPECT_STREQ(name(rig.end), "source_eof");
  EXPECT_FALSE(rig.under_test->error()) << "a clean end has no error";
  EXPECT_EQ(rig.bytes(), data.size());
  // FIN arrived, and only after all the data.
  EXPECT_EQ(out.end, asio::error::eof) << out.end.message();
  EXPECT_EQ(out.data.size(), data.size());
  EXPECT_TRUE(out.data == data) << "bytes reordered or corrupted";
  EXPECT_GT(rig.last_activity, clock_type::time_point::min()) << "activity not recorded (idle timeout)";
}

asio::awaitable<void> check_reverse_direction(tcp::socket& sink_peer, tcp_stream& sink, std::string& got) {
  const std::string reply = "reply after the half-close";
  co_await asio::async_write(sink_peer, asio::buffer(reply), asio::as_tuple(asio::use_awaitable));
  char buffer[64];
  std::size_t total = 0;
  for (int i = 0; total < reply.size() && i < 100; ++i) {
    auto [ec, n] = co_await sink.socket().async_read_some(asio::buffer(buffer + total, sizeof buffer - total),
                                                          asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    total += n;
  }
  got.assign(buffer, total);
}

TEST(relay, source_eof_half_closes_the_sink_and_leaves_the_other_direction_open) {
  relay_rig rig;
  drained out;
  rig.start();
  asio::co_spawn(rig.io, write_then_fin(rig.source_peer, "last request", 1024), asio::detached);
  asio::co_spawn(rig.io, read_until_end(rig.sink_peer, out), asio::detached);
  ASSERT_TRUE(rig.run_all());
  EXPECT_STREQ(name(rig.end), "source_eof");
  EXPECT_EQ(out.data, "last request");
  EXPECT_EQ(out.end, asio::error::eof) << out.end.message();
  EXPECT_EQ(rig.bytes(), 12u);

  // Only our sending side is shut: the sink still reads what its peer sends.
  std::string reverse;
  asio::co_spawn(rig.io, check_reverse_direction(rig.sink_peer, *rig.sink, reverse), asio::detached);
  rig.io.restart();
  ASSERT_TRUE(rig.run_all());
  EXPECT_EQ(reverse, "reply after the half-close");
}

void reset(tcp::socket& socket) {
  // Linger with a zero timeout: close() sends RST instead of FIN.
  socket.set_option(asio::socket_base::linger(true, 0));
  socket.close();
}

asio::awaitable<void> write_then_reset(tcp::socket& socket, std::string data) {
  co_await asio::async_write(socket, asio::buffer(data), asio::as_tuple(asio::use_awaitable));
  reset(socket);
}

TEST(relay, reset_source_ends_with_source_error) {
  relay_rig rig;
  rig.start();
  reset(rig.source_peer);
  ASSERT_TRUE(rig.run_all());
  EXPECT_STREQ(name(rig.end), "source_error");
  EXPECT_EQ(rig.bytes(), 0u);
  // What the session puts in the access line's error= field.
  EXPECT_EQ(rig.under_test->error(), asio::error::connection_reset) << rig.under_test->error().message();
}

TEST(relay, reset_source_mid_stream_ends_with_source_error_and_no_fin) {
  relay_rig rig;
  rig.start();
  asio::co_spawn(rig.io, write_then_reset(rig.source_peer, "partial"), asio::detached);
  ASSERT_TRUE(rig.run_all());
  EXPECT_STREQ(name(rig.end), "source_error");
  // Whatever was read before the reset may have been forwarded...
  EXPECT_LE(rig.bytes(), 7u);
  // ...but a failed source is not an end of stream: the sink gets no FIN.
  rig.sink_peer.non_blocking(true);
  char buffer[64];
  boost::system::error_code ec;
  std::size_t got = 0;
  for (int i = 0; i < 10 && !ec; ++i) got += rig.sink_peer.read_some(asio::buffer(buffer), ec);
  EXPECT_EQ(got, rig.bytes());
  EXPECT_EQ(ec, asio::error::would_block) << ec.message();
}

TEST(relay, reset_sink_ends_with_sink_error) {
  relay_rig rig;
  rig.close_peers_at_end = true;
  reset(rig.sink_peer);
  rig.start();
  // The source keeps offering data; the pump must give up on the dead sink.
  const std::string data = pattern(1 << 20);
  asio::co_spawn(rig.io, write_then_fin(rig.source_peer, data, 16 * 1024), asio::detached);
  ASSERT_TRUE(rig.run_all());
  EXPECT_STREQ(name(rig.end), "sink_error");
  EXPECT_LT(rig.bytes(), data.size());
  EXPECT_TRUE(rig.under_test->error()) << "a failed write should say why";
}

TEST(relay, failed_half_close_of_the_sink_is_a_sink_error) {
  relay_rig rig;
  rig.sink->socket().close();  // nothing can be sent on the sink any more, not even a FIN
  rig.start();
  asio::co_spawn(rig.io, write_then_fin(rig.source_peer, "", 1), asio::detached);
  ASSERT_TRUE(rig.run_all());
  EXPECT_STREQ(name(rig.end), "sink_error");
  EXPECT_EQ(rig.bytes(), 0u);
}

// Writes without blocking until the socket is full, then waits for room; stops
// at `cap` bytes. `written` is what the kernel accepted.
asio::awaitable<void> flood(tcp::socket& socket, std::size_t cap, std::size_t& written) {
  const std::string chunk = pattern(64 * 1024);
  socket.non_blocking(true);
  while (written < cap) {
    boost::system::error_code ec;
    const std::size_t n = socket.write_some(asio::buffer(chunk.data(), std::min(chunk.size(), cap - written)), ec);
    written += n;
    if (ec == asio::error::would_block) {
      auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_write, asio::as_tuple(asio::use_awaitable));
      if (wait_ec) co_return;
    } else if (ec) {
      co_return;
    }
  }
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
}

int socket_option(tcp::socket& socket, int name) {
  int value = 0;
  socklen_t length = sizeof value;
  ::getsockopt(socket.native_handle(), SOL_SOCKET, name, &value, &length);
  return value;
}

TEST(relay, stops_reading_the_source_while_the_sink_does_not_read) {
  relay_rig rig;
  // Fixed buffers on the sink side (no autotuning), so "what the sink side
  // can hold" is a known bound.
  rig.sink->socket().set_option(asio::socket_base::send_buffer_size(64 * 1024));
  rig.sink_peer.set_option(asio::socket_base::receive_buffer_size(64 * 1024));
  // Linux reports the doubled value it reserves (payload plus bookkeeping).
  const std::size_t sink_side_capacity = static_cast<std::size_t>(socket_option(rig.sink->socket(), SO_SNDBUF)) +
                                         static_cast<std::size_t>(socket_option(rig.sink_peer, SO_RCVBUF));
  const std::size_t cap = 32u << 20;
  std::size_t offered = 0;
  rig.start();
  asio::co_spawn(rig.io, flood(rig.source_peer, cap, offered), asio::detached);

  // Run until nothing is ready: the flood waits for room in the source, the
  // pump for room in the sink. Bounded in rounds and in time.
  const auto deadline = clock_type::now() + 30s;
  int idle_rounds = 0;
  for (int i = 0; i < 1000000 && idle_rounds < 3 && clock_type::now() < deadline; ++i) {
    if (rig.io.poll() == 0)
      ++idle_rounds;
    else
      idle_rounds = 0;
  }
  ASSERT_EQ(idle_rounds, 3) << "never settled";
  EXPECT_FALSE(rig.end) << name(rig.end);
  EXPECT_LT(offered, cap) << "the source was drained: the pump did not stop reading";
  // What the pump took from the source: what it wrote plus at most one buffer.
  const std::size_t taken_bound = rig.bytes() + splice_buffer_size;
  EXPECT_LE(taken_bound, sink_side_capacity + splice_buffer_size);
  EXPECT_GT(offered, taken_bound) << "the source had nothing more to give; the test proves nothing";
  EXPECT_EQ(lent_buffers(), 1u) << "a stalled write keeps exactly its one buffer";

  // Once the sink reads again, everything flows and arrives complete.
  drained out;
  asio::co_spawn(rig.io, read_until_end(rig.sink_peer, out), asio::detached);
  rig.io.restart();
  ASSERT_TRUE(rig.run_all(60s));
  EXPECT_STREQ(name(rig.end), "source_eof");
  EXPECT_EQ(rig.bytes(), cap);
  EXPECT_EQ(out.data.size(), cap);
  EXPECT_EQ(out.end, asio::error::eof);
}

asio::awaitable<void> write_and_await_delivery(tcp::socket& writer, tcp::socket& reader, std::string data,
                                               std::string& received) {
  co_await asio::async_write(writer, asio::buffer(data), asio::as_tuple(asio::use_awaitable));
  received.resize(data.size());
  co_await asio::async_read(reader, asio::buffer(received), asio::as_tuple(asio::use_awaitable));
}

TEST(relay, an_idle_direction_holds_no_buffer) {
  relay_rig rig;
  const std::size_t lent_before = lent_buffers();
  rig.start();
  std::string received;
  asio::co_spawn(rig.io, write_and_await_delivery(rig.source_peer, rig.sink_peer, "ping", received),
                 asio::detached);
  // Until the delivery coroutine ends; the pump then waits for more input.
  for (int i = 0; i < 100000 && received != "ping"; ++i) rig.io.run_one_for(1s);
  rig.io.poll();
  ASSERT_EQ(received, "ping");
  EXPECT_FALSE(rig.end) << name(rig.end);
  EXPECT_EQ(rig.bytes(), 4u);
  EXPECT_EQ(lent_buffers(), lent_before) << "the buffer outlived the bytes it moved";
  EXPECT_EQ(rig.owner.use_count(), 2) << "an idle relay is exactly one pending wait holding its owner";
}

}  // namespace
}  // namespace mtlsd::proxy
