#include "mtlsd/admin/endpoint.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <vector>

#include "endpoint_connection.hpp"
#include "mtlsd/log/logging.hpp"
#include "mtlsd/platform/descriptors.hpp"

namespace mtlsd::admin {

namespace asio = boost::asio;
using asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

bool out_of_resources(const error_code& ec) {
  return ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

void log_crash(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    log::error(log::record("admin_crashed").add("in", what).add("error", x.what()));
  } catch (...) {
    log::error(log::record("admin_crashed").add("in", what).add("error", "unknown exception"));
  }
}

}  // namespace

struct endpoint::impl : detail::connection_owner {
  impl(asio::io_context& context, const tcp::endpoint& address) : io(context), acceptor(context), backoff(context) {
    const auto fail = [&](const char* what, const error_code& ec) {
      throw std::runtime_error(std::string("admin endpoint: cannot ") + what + " " + detail::address_text(address) +
                               ": " + ec.message());
    };
    error_code ec;
    acceptor.open(address.protocol(), ec);
    if (ec) fail("open a socket for", ec);
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    // "[::]" means IPv6 only, as for services.
    if (address.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
    acceptor.bind(address, ec);
    if (ec) fail("listen on", ec);
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail("listen on", ec);
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<impl> self) {
    while (!self->stopped) {
      auto [ec, socket] = co_await self->acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (self->stopped) co_return;
      if (ec && platform::out_of_descriptors(ec)) {
        co_await self->pause_for_descriptors(ec);
        continue;
      }
      if (ec) {
        log::warn(log::record("admin_accept_failed").add("error", ec.message()));
        if (out_of_resources(ec)) {
          // The pending connection stays in the backlog: retrying at once would spin.
          self->backoff.expires_after(std::chrono::milliseconds(100));
          co_await self->backoff.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        continue;
      }
      if (self->open.size() >= self->options.max_clients) {
        self->refuse(socket);
        continue;
      }
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto c = std::make_shared<detail::connection>(std::move(socket), self);
      asio::co_spawn(self->io, detail::connection::run(std::move(c)),
                     [](std::exception_ptr e) { log_crash(e, "connection"); });
    }
  }

  // As the service listeners do (proxy/listener.cpp): one line when
  // accepting pauses, queued connections closed at once through the reserve
  // descriptor every 100 ms, one line when a descriptor is free again.
  asio::awaitable<void> pause_for_descriptors(const error_code& ec) {
    const auto since = std::chrono::steady_clock::now();
    reserve.release();
    const auto limit = platform::descriptor_limit();
    const auto open_files = platform::open_descriptor_count();
    reserve.restore();
    auto line = log::record("admin_accept_paused");
    line.add("addr", detail::address_text(local_address())).add("error", ec.message());
    if (limit) line.add("nofile", *limit);
    if (open_files) line.add("open", static_cast<std::uint64_t>(*open_files));
    log::warn(line);
    std::uint64_t refused = 0;
    while (!stopped) {
      reserve.release();
      refused += platform::shed_queued_connections(acceptor.native_handle(), 4096);
      reserve.restore();
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      if (!stopped && platform::descriptors_available(acceptor.native_handle(), 1)) break;
    }
    if (stopped) co_return;
    log::info(log::record("admin_accept_resumed")
                  .add("addr", detail::address_text(local_address()))
                  .add("paused_ms", static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                   std::chrono::steady_clock::now() - since)
                                                                   .count()))
                  .add("refused", refused));
  }

  tcp::endpoint local_address() const {
    error_code ignored;
    return acceptor.local_endpoint(ignored);
  }

  void refuse(tcp::socket& socket) {
    error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    log::warn(log::record("admin_connection_refused")
                  .add("peer", ec ? std::string("unknown") : detail::address_text(remote))
                  .add("reason", "max_clients")
                  .add("max", static_cast<std::uint64_t>(options.max_clients)));
    socket.close(ec);
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    error_code ignored;
    acceptor.close(ignored);
    backoff.cancel();
    // stop() only cancels; connections leave `open` later, from their own
    // coroutines, so iterating here is safe.
    for (auto* c : open) c->stop();
  }

  asio::io_context& io;
  tcp::acceptor acceptor;
  asio::steady_timer backoff;
  bool started = false;
  platform::descriptor_reserve reserve;
};

endpoint::endpoint(asio::io_context& io, const tcp::endpoint& address, std::shared_ptr<const tls::server_context> tls,
                   routes handler, endpoint_options options)
    : impl_(std::make_shared<impl>(io, address)) {
  impl_->handler = std::move(handler);
  impl_->options = options;
  impl_->tls = std::move(tls);
}

endpoint::~endpoint() { stop(); }

tcp::endpoint endpoint::local_endpoint() const {
  error_code ec;
  return impl_->acceptor.local_endpoint(ec);
}

void endpoint::start() {
  if (impl_->started || impl_->stopped) return;
  impl_->started = true;
  asio::co_spawn(impl_->io, impl::accept_loop(impl_), [](std::exception_ptr e) { log_crash(e, "accept"); });
}

void endpoint::stop() {
  // Asio objects are not thread-safe: from the io_context's own thread (or
  // while nothing runs it) stop at once, from any other thread via the queue.
  auto& io = impl_->io;
  if (io.get_executor().running_in_this_thread() || io.stopped())
    impl_->stop();
  else
    asio::post(io, [self = impl_] { self->stop(); });
}

void endpoint::set_tls(std::shared_ptr<const tls::server_context> tls) {
  if (impl_->tls && tls) impl_->tls = std::move(tls);
}

}  // namespace mtlsd::admin
