#include "mtlsd/proxy/listener.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "mtlsd/log/logging.hpp"
#include "mtlsd/proxy/endpoint_text.hpp"

namespace mtlsd::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

using reuse_port_option = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

bool out_of_resources(const error_code& ec) {
  return ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

// Descriptor exhaustion is a process-wide state: the listeners that hit it
// share one episode, logged when the first pauses and the last resumes. A
// process hovering at its limit would pause and resume many times a second;
// a pause within 10 s of the last logged resume is therefore not logged
// again (nor its resume): the metrics still count what it refused.
class shortage_episode {
 public:
  static constexpr auto quiet_after_resume = std::chrono::seconds(10);
  struct summary {
    std::chrono::milliseconds paused_for;
    std::uint64_t refused;
  };
  // True when this starts an episode worth a line.
  bool enter() {
    std::lock_guard lock(mutex_);
    if (paused_++ > 0) return false;
    const auto now = std::chrono::steady_clock::now();
    logged_ = !resumed_at_ || now - *resumed_at_ >= quiet_after_resume;
    since_ = now;
    refused_ = 0;
    return logged_;
  }
  void refused(std::uint64_t n) {
    if (n == 0) return;
    std::lock_guard lock(mutex_);
    refused_ += n;
  }
  // The episode to report as resumed, when this ends a logged one.
  std::optional<summary> leave() {
    std::lock_guard lock(mutex_);
    if (--paused_ > 0 || !logged_) return std::nullopt;
    const auto now = std::chrono::steady_clock::now();
    resumed_at_ = now;
    return summary{std::chrono::duration_cast<std::chrono::milliseconds>(now - since_), refused_};
  }

 private:
  std::mutex mutex_;
  std::size_t paused_ = 0;
  bool logged_ = false;
  std::chrono::steady_clock::time_point since_;
  std::optional<std::chrono::steady_clock::time_point> resumed_at_;
  std::uint64_t refused_ = 0;
};

shortage_episode& process_shortage() {
  static shortage_episode episode;
  return episode;
}

}  // namespace

tcp::endpoint listener::resolve(asio::io_context& io, const service_config& service) {
  const endpoint_address& address = service.accept;
  error_code ec;
  const auto literal = asio::ip::make_address(address.host, ec);
  if (!ec) return {literal, address.port};
  // Start-up may block; names here are rare ("localhost") and resolved once.
  tcp::resolver resolver(io);
  auto results = resolver.resolve(address.host, std::to_string(address.port), tcp::resolver::passive, ec);
  if (ec || results.empty())
    throw std::runtime_error("service " + service.name + ": cannot resolve " + address.host + ": " +
                             (ec ? ec.message() : "no address"));
  return results.begin()->endpoint();
}

tcp::acceptor listener::bind(asio::io_context& io, const tcp::endpoint& endpoint, bool reuse_port,
                             const std::string& service) {
  tcp::acceptor acceptor(io);
  const auto fail = [&](const std::string& what, const error_code& ec) {
    throw std::runtime_error("service " + service + ": cannot " + what + " " + to_text(endpoint) + ": " +
                             ec.message());
  };
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) fail("open a socket for", ec);
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  // Only with several workers: with one, a second mtlsd started by mistake
  // on the same address must fail with "address in use", not share it.
  if (reuse_port) acceptor.set_option(reuse_port_option(true), ec);
  // "[::]" means IPv6 only; an IPv4 service is its own [[service]] block.
  if (endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) fail("listen on", ec);
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("listen on", ec);
  return acceptor;
}

tcp::acceptor listener::adopt(asio::io_context& io, int fd, const tcp::endpoint& endpoint, const std::string& service) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0)
    throw std::runtime_error("service " + service + ": cannot use the inherited socket " + to_text(endpoint) + ": " +
                             std::strerror(errno));
  tcp::acceptor acceptor(io);
  error_code ec;
  acceptor.assign(endpoint.protocol(), copy, ec);
  if (ec) {
    ::close(copy);
    throw std::runtime_error("service " + service + ": cannot use the inherited socket " + to_text(endpoint) + ": " +
                             ec.message());
  }
  return acceptor;
}

listener::listener(tcp::acceptor acceptor, std::shared_ptr<const service_group> services, connection_counter& global,
                   session_registry& registry)
    : acceptor_(std::move(acceptor)),
      services_(std::move(services)),
      global_(global),
      registry_(registry),
      backoff_(acceptor_.get_executor()) {}

void listener::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(shared_from_this()), asio::detached);
}

tcp::endpoint listener::local_endpoint() const {
  error_code ec;
  return acceptor_.local_endpoint(ec);
}

void listener::close() {
  closed_ = true;
  error_code ignored;
  acceptor_.close(ignored);
  backoff_.cancel();
}

asio::awaitable<void> listener::accept_loop([[maybe_unused]] std::shared_ptr<listener> self) {
  const auto executor = co_await asio::this_coro::executor;
  while (!closed_) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
    if (closed_) break;
    if (ec && platform::out_of_descriptors(ec)) {
      co_await pause_for_descriptors(ec, 0);
      continue;
    }
    if (ec) {
      log::warn(log::record("accept_failed").add("svc", services_->front()->config.name).add("error", ec.message()));
      if (out_of_resources(ec)) {
        // Out of kernel memory: the pending connection stays in the backlog,
        // so retrying at once would spin. Pause, let connections finish, retry.
        backoff_.expires_after(std::chrono::milliseconds(100));
        co_await backoff_.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      continue;
    }
    if (!platform::descriptors_available(acceptor_.native_handle(), 1)) {
      // No descriptor left for the backend: refuse now, not after a handshake.
      error_code ignored;
      socket.close(ignored);
      co_await pause_for_descriptors(asio::error::no_descriptors, 1);
      continue;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // With SNI routing the service, and so its counters and limit, is known
    // only after the ClientHello; the session takes care of them then.
    const service_runtime& front = *services_->front();
    const bool routed = services_->routes() != nullptr;
    if (!routed) front.metrics->accepted.add();

    limit_scope refused_by = limit_scope::none;
    connection_slot slot =
        routed ? try_admit_global(global_, refused_by) : try_admit(global_, *front.connections, refused_by);
    if (refused_by != limit_scope::none) {
      if (routed) front.metrics->accepted.add();
      refuse(socket, front, refused_by);
      continue;
    }
    auto s = std::make_shared<session>(std::move(socket), services_, std::move(slot), registry_);
    asio::co_spawn(executor, s->run(), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        log::error(log::record("session_crashed").add("error", x.what()));
      }
    });
  }
}

asio::awaitable<void> listener::pause_for_descriptors(const error_code& ec, std::size_t refused) {
  const service_runtime& front = *services_->front();
  const auto metrics = front.metrics;
  metrics->accept_paused.add();
  // One line per episode for the whole process: every listener runs short
  // at once, and a line per listener (per worker) would say nothing more.
  if (process_shortage().enter()) {
    // The reserve's slot lets the count open /proc/self/fd.
    reserve_.release();
    const auto limit = platform::descriptor_limit();
    const auto open = platform::open_descriptor_count();
    reserve_.restore();
    auto line = log::record("accept_paused");
    line.add("svc", front.config.name).add("addr", to_text(local_endpoint())).add("error", ec.message());
    if (limit) line.add("nofile", *limit);
    if (open) line.add("open", static_cast<std::uint64_t>(*open));
    line.add("connections", static_cast<std::uint64_t>(global_.active()));
    log::warn(line);
  }
  std::size_t shed = refused;
  while (!closed_) {
    // Every round takes the whole queue through the reserve's slot and
    // closes it: queued clients hear at once instead of timing out.
    reserve_.release();
    shed += platform::shed_queued_connections(acceptor_.native_handle(), 4096);
    reserve_.restore();
    // Counted as accepted too, as connections refused by max_connections are.
    metrics->accepted.add(shed);
    metrics->refused_descriptors.add(shed);
    process_shortage().refused(shed);
    shed = 0;
    // Nothing signals that a descriptor came free: look again shortly (ten
    // rounds a second cost nothing). Resume once a whole proxied connection
    // (client and backend socket) fits again.
    backoff_.expires_after(std::chrono::milliseconds(100));
    co_await backoff_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!closed_ && platform::descriptors_available(acceptor_.native_handle(), 2)) break;
  }
  metrics->accept_paused.sub();
  const auto episode = process_shortage().leave();
  if (episode && !closed_)
    log::info(log::record("accept_resumed")
                  .add("paused_ms", static_cast<std::uint64_t>(episode->paused_for.count()))
                  .add("refused", episode->refused));
}

void listener::refuse(tcp::socket& socket, const service_runtime& service, limit_scope scope) {
  error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  const std::string peer = ec ? "unknown" : to_text(remote);
  const bool global = scope == limit_scope::global;
  const std::size_t max = global ? global_.max() : service.connections->max();
  service.metrics->refused_limit.add();
  log::warn(log::record("connection_refused")
                .add("svc", service.config.name)
                .add("peer", peer)
                .add("reason", "max_connections")
                .add("limit", global ? "global" : "service")
                .add("max", static_cast<std::uint64_t>(max)));
  log::info(log::record("access")
                .add("conn", session::next_id())
                .add("svc", service.config.name)
                .add("peer", peer)
                .add("backend", "-")
                .add("bytes_from_client", std::uint64_t{0})
                .add("bytes_to_client", std::uint64_t{0})
                .add("duration_ms", 0)
                .add("close", to_string(close_reason::max_connections)));
  socket.close(ec);
}

}  // namespace mtlsd::proxy
