#include "mtlsd/proxy/worker.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "mtlsd/log/logging.hpp"

namespace mtlsd::proxy {

namespace asio = boost::asio;

void worker::bind(const std::vector<asio::ip::tcp::endpoint>& endpoints, bool reuse_port) {
  for (std::size_t i = 0; i < runtime_.services.size(); ++i)
    listeners_.push_back(
        std::make_unique<listener>(io_, runtime_, runtime_.services[i], registry_, endpoints[i], reuse_port));
}

asio::ip::tcp::endpoint worker::local_endpoint(std::size_t service) const {
  return listeners_.at(service)->local_endpoint();
}

void worker::start() {
  for (const auto& l : listeners_) asio::co_spawn(io_, l->accept_loop(), asio::detached);
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

void worker::begin_drain(std::function<void()> on_idle) {
  asio::post(io_, [this, on_idle = std::move(on_idle)]() mutable {
    for (auto& l : listeners_) l->close();
    if (registry_.size() == 0)
      on_idle();
    else
      registry_.when_empty(std::move(on_idle));
  });
}

void worker::stop_sessions() {
  asio::post(io_, [this] { registry_.stop_all(); });
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace mtlsd::proxy
