#include "mtlsd/platform/signal_reader.hpp"

#include <pthread.h>

#include <cerrno>
#include <system_error>

#include <boost/asio/buffer.hpp>

namespace mtlsd::platform {
namespace {

int open_signalfd(std::initializer_list<int> numbers) {
  sigset_t signals;
  sigemptyset(&signals);
  for (int n : numbers) sigaddset(&signals, n);
  if (const int error = pthread_sigmask(SIG_BLOCK, &signals, nullptr); error != 0)
    throw std::system_error(error, std::generic_category(), "cannot block the stop and reload signals");
  const int fd = ::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open a signalfd");
  return fd;
}

}  // namespace

signal_reader::signal_reader(boost::asio::io_context& io, std::initializer_list<int> signals)
    : descriptor_(io, open_signalfd(signals)) {}

void signal_reader::async_wait(handler on_signal) {
  // A signalfd read returns whole records, so a record-sized read is one
  // signal; Asio retries on EAGAIN and waits for readability.
  descriptor_.async_read_some(boost::asio::buffer(&received_, sizeof received_),
                              [this, on_signal = std::move(on_signal)](const boost::system::error_code& ec,
                                                                        std::size_t bytes) {
                                if (ec) return on_signal(ec, 0);
                                if (bytes != sizeof received_)
                                  return on_signal(boost::asio::error::make_error_code(boost::asio::error::eof), 0);
                                on_signal({}, static_cast<int>(received_.ssi_signo));
                              });
}

void signal_reader::cancel() {
  boost::system::error_code ignored;
  descriptor_.cancel(ignored);
}

}  // namespace mtlsd::platform
