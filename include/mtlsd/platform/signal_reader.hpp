#pragma once
// The daemon's stop and reload signals, read from a signalfd on its event
// loop instead of caught by an asynchronous handler. The signals are blocked
// in the constructing thread, and so in every thread it starts afterwards;
// one sent while nobody waits stays pending in the kernel until read. No code
// runs in signal context, so nothing depends on what a signal interrupts,
// which is also what makes the signal paths deterministic under
// ThreadSanitizer (its deferred delivery of caught signals can lose one sent
// just as a thread goes to sleep). Owned by the platform module.

#include <sys/signalfd.h>

#include <functional>
#include <initializer_list>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/error_code.hpp>

namespace mtlsd::platform {

class signal_reader {
 public:
  using handler = std::function<void(const boost::system::error_code&, int signal_number)>;

  // Blocks `signals` in this thread; throws std::system_error when the
  // signalfd cannot be made.
  signal_reader(boost::asio::io_context& io, std::initializer_list<int> signals);
  // The signals stay blocked: one arriving while the daemon finishes must not
  // end the process by its default action.
  ~signal_reader() = default;
  signal_reader(const signal_reader&) = delete;
  signal_reader& operator=(const signal_reader&) = delete;

  // One signal per call; operation_aborted after cancel().
  void async_wait(handler on_signal);
  void cancel();

 private:
  boost::asio::posix::stream_descriptor descriptor_;
  signalfd_siginfo received_{};
};

}  // namespace mtlsd::platform
