#include "mtlsd/proxy/worker.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "mtlsd/log/logging.hpp"

namespace mtlsd::proxy {

namespace asio = boost::asio;

void worker::post(std::function<void()> fn) { asio::post(io_, std::move(fn)); }

void worker::start() {
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      // Sessions never throw; reaching this is a bug, and the process must not
      // limp on with a dead event loop.
      log::error(log::record("worker_crashed").add("error", e.what()));
      std::abort();
    }
  });
}

void worker::close_then_when_idle(std::vector<std::shared_ptr<listener>> listeners, std::function<void()> on_closed,
                                  std::function<void()> on_idle) {
  post([this, listeners = std::move(listeners), on_closed = std::move(on_closed),
        on_idle = std::move(on_idle)]() mutable {
    for (auto& l : listeners) l->close();
    on_closed();
    if (registry_.size() == 0)
      on_idle();
    else
      registry_.when_empty(std::move(on_idle));
  });
}

void worker::stop_sessions() {
  post([this] { registry_.stop_all(); });
}

void worker::reevaluate_sessions(std::shared_ptr<const runtime> next) {
  post([this, next = std::move(next)] { registry_.reevaluate_all(next); });
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace mtlsd::proxy
