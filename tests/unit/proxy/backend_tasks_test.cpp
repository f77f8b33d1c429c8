// Background work of backend pools: re-resolution every resolve_interval
// with an injected resolver (DNS changes picked up without a reload; a failed
// lookup keeps the last good addresses) and health checks against real
// loopback sockets.

#include "mtlsd/proxy/backend_tasks.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <deque>

namespace mtlsd::proxy {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace ip = asio::ip;

service_config one_backend(const std::string& url) {
  service_config s;
  s.name = "svc";
  std::string error;
  s.connect.push_back(*parse_endpoint(url, error));
  s.connect_timeout = 1s;
  return s;
}

// Runs `io` until `done()` or 5 s passed.
bool run_until(asio::io_context& io, const std::function<bool()>& done) {
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    io.restart();
    io.run_for(10ms);
  }
  return done();
}

TEST(backend_tasks, re_resolution_follows_dns_and_keeps_the_last_good_answer_on_failure) {
  asio::io_context io;
  auto s = one_backend("tcp://backend.test:8080");
  s.resolve_interval = 100ms;
  auto pool = std::make_shared<backend_pool>(s);
  const ip::tcp::endpoint first(ip::make_address("10.0.0.1"), 8080), second(ip::make_address("10.0.0.2"), 8080);
  // Answers in turn: one address, a failure, another address.
  std::deque<std::pair<boost::system::error_code, backend_tasks::endpoints>> answers = {
      {{}, {first}}, {asio::error::host_not_found, {}}, {{}, {second}}};
  int lookups = 0;
  backend_tasks tasks(io.get_executor(),
                      [&](std::string host, std::uint16_t port)
                          -> asio::awaitable<std::pair<boost::system::error_code, backend_tasks::endpoints>> {
                        EXPECT_EQ(host, "backend.test");
                        EXPECT_EQ(port, 8080);
                        ++lookups;
                        auto answer = answers.size() > 1 ? answers.front() : answers.back();
                        if (answers.size() > 1) answers.pop_front();
                        co_return answer;
                      });
  tasks.watch(pool);
  ASSERT_TRUE(run_until(io, [&] { return pool->members().size() == 1; }));
  EXPECT_EQ(pool->members()[0]->endpoint(), first);
  ASSERT_TRUE(run_until(io, [&] { return lookups >= 2; }));
  ASSERT_EQ(pool->members().size(), 1u);
  EXPECT_EQ(pool->members()[0]->endpoint(), first);  // the failure kept it
  ASSERT_TRUE(run_until(io, [&] { return pool->members()[0]->endpoint() == second; }));
  tasks.stop();
  io.restart();
  io.run_for(1s);
  EXPECT_TRUE(io.stopped()) << "stop() left work pending";
}

TEST(backend_tasks, a_check_passes_on_a_listening_backend_and_fails_on_a_closed_port) {
  asio::io_context io;
  ip::tcp::acceptor listening(io, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
  const auto open_port = listening.local_endpoint().port();
  ip::tcp::acceptor probe(io, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
  const auto closed_port = probe.local_endpoint().port();
  probe.close();

  auto up = std::make_shared<backend_pool>(one_backend("tcp://127.0.0.1:" + std::to_string(open_port)));
  auto down = std::make_shared<backend_pool>(one_backend("tcp://127.0.0.1:" + std::to_string(closed_port)));
  backend_tasks tasks(io.get_executor());
  auto passed = asio::co_spawn(io, tasks.check(up, up->members()[0]), asio::use_future);
  auto failed = asio::co_spawn(io, tasks.check(down, down->members()[0]), asio::use_future);
  io.run_for(5s);
  ASSERT_EQ(passed.wait_for(0s), std::future_status::ready);
  ASSERT_EQ(failed.wait_for(0s), std::future_status::ready);
  EXPECT_TRUE(passed.get());
  EXPECT_FALSE(failed.get());
  EXPECT_FALSE(up->members()[0]->down());
  EXPECT_TRUE(down->members()[0]->down());
  EXPECT_EQ(down->members()[0]->metrics().up.value(), 0);
}

TEST(backend_tasks, the_check_step_hook_can_fail_a_check_after_the_tcp_connect) {
  asio::io_context io;
  ip::tcp::acceptor listening(io, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
  auto pool = std::make_shared<backend_pool>(
      one_backend("tcp://127.0.0.1:" + std::to_string(listening.local_endpoint().port())));
  bool step_ran = false;
  backend_tasks tasks(io.get_executor(), {},
                      [&](ip::tcp::socket& socket, const backend_member&, const backend_pool&,
                          std::chrono::steady_clock::time_point) -> asio::awaitable<backend_tasks::step_result> {
                        step_ran = socket.is_open();
                        co_return backend_tasks::step_result{asio::error::connection_reset, "the step said no"};
                      });
  auto result = asio::co_spawn(io, tasks.check(pool, pool->members()[0]), asio::use_future);
  io.run_for(5s);
  ASSERT_EQ(result.wait_for(0s), std::future_status::ready);
  EXPECT_FALSE(result.get());
  EXPECT_TRUE(step_ran);
  EXPECT_TRUE(pool->members()[0]->down());
}

}  // namespace
}  // namespace mtlsd::proxy
