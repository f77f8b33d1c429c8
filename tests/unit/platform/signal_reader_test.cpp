// The daemon's stop and reload signals: one sent before the daemon waits
// (right after it logs 'ready') must still stop it, and a reload followed by
// a stop must do both. Each test reads in a thread of its own, so the signals
// it blocks stay out of the rest of the test process.

#include "mtlsd/platform/signal_reader.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <chrono>
#include <functional>
#include <csignal>
#include <thread>
#include <vector>

#include <boost/asio/error.hpp>

namespace mtlsd::platform {
namespace {

using namespace std::chrono_literals;

struct received {
  std::vector<int> signals;
  boost::system::error_code last_error;
};

// Sends `before` to the reading thread before any wait, then waits for
// `count` signals (or until cancelled), sending `during` from the first
// handler.
received read_signals(std::vector<int> before, std::vector<int> during, std::size_t count, bool cancel_first) {
  received out;
  std::thread thread([&] {
    boost::asio::io_context io;
    signal_reader reader(io, {SIGUSR1, SIGUSR2});
    for (int s : before) pthread_kill(pthread_self(), s);
    std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                              int number) {
      out.last_error = ec;
      if (ec) return;
      out.signals.push_back(number);
      if (out.signals.size() == 1)
        for (int s : during) pthread_kill(pthread_self(), s);
      if (out.signals.size() < count) reader.async_wait(on_signal);
    };
    reader.async_wait(on_signal);
    if (cancel_first) reader.cancel();
    io.run_for(5s);
  });
  thread.join();
  return out;
}

TEST(signal_reader, a_signal_sent_before_the_wait_is_delivered_by_it) {
  const auto r = read_signals({SIGUSR1}, {}, 1, false);
  EXPECT_EQ(r.signals, std::vector<int>{SIGUSR1});
  EXPECT_FALSE(r.last_error);
}

TEST(signal_reader, different_signals_are_each_delivered_once) {
  const auto r = read_signals({SIGUSR2, SIGUSR1}, {}, 2, false);
  ASSERT_EQ(r.signals.size(), 2u);
  EXPECT_NE(r.signals[0], r.signals[1]);
}

TEST(signal_reader, a_signal_sent_while_handling_another_is_delivered_next) {
  const auto r = read_signals({SIGUSR1}, {SIGUSR2}, 2, false);
  EXPECT_EQ(r.signals, (std::vector<int>{SIGUSR1, SIGUSR2}));
}

TEST(signal_reader, cancel_ends_a_wait_with_operation_aborted) {
  const auto r = read_signals({}, {}, 1, true);
  EXPECT_TRUE(r.signals.empty());
  EXPECT_EQ(r.last_error, boost::asio::error::operation_aborted);
}

}  // namespace
}  // namespace mtlsd::platform
