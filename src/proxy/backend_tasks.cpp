#include "mtlsd/proxy/backend_tasks.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mtlsd/log/logging.hpp"
#include "mtlsd/platform/descriptors.hpp"
#include "mtlsd/proxy/runtime.hpp"

namespace mtlsd::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

struct backend_tasks::task {
  std::weak_ptr<backend_pool> pool;
  asio::steady_timer resolve_timer;
  asio::steady_timer health_timer;
  std::vector<std::weak_ptr<tcp::socket>> checking;  // in-flight checks, closed by stop()

  task(const std::shared_ptr<backend_pool>& p, const asio::any_io_executor& ex)
      : pool(p), resolve_timer(ex), health_timer(ex) {}
};

namespace {

asio::awaitable<std::pair<boost::system::error_code, backend_tasks::endpoints>> asio_resolve(std::string host,
                                                                                            std::uint16_t port) {
  tcp::resolver resolver(co_await asio::this_coro::executor);
  auto [ec, results] =
      co_await resolver.async_resolve(host, std::to_string(port), asio::as_tuple(asio::use_awaitable));
  backend_tasks::endpoints found;
  if (!ec)
    for (const auto& entry : results) found.push_back(entry.endpoint());
  co_return std::make_pair(ec, std::move(found));
}

}  // namespace

backend_tasks::backend_tasks(asio::any_io_executor executor, resolver_fn resolver, check_step_fn check_step)
    : executor_(std::move(executor)),
      resolver_(resolver ? std::move(resolver) : resolver_fn(asio_resolve)),
      check_step_(std::move(check_step)),
      stopped_(std::make_shared<bool>(false)) {}

backend_tasks::~backend_tasks() { *stopped_ = true; }

void backend_tasks::watch(const runtime& rt) {
  for (const auto& service : rt.services) watch(service->backends);
}

void backend_tasks::watch(const std::shared_ptr<backend_pool>& pool) {
  if (*stopped_ || !pool) return;
  std::erase_if(tasks_, [](const std::shared_ptr<task>& t) { return t->pool.expired(); });
  for (const auto& t : tasks_)
    if (t->pool.lock() == pool) return;
  auto t = std::make_shared<task>(pool, executor_);
  tasks_.push_back(t);
  asio::co_spawn(executor_, resolve_loop(t), asio::detached);
  asio::co_spawn(executor_, health_loop(t), asio::detached);
}

void backend_tasks::stop() {
  *stopped_ = true;
  for (const auto& t : tasks_) {
    t->resolve_timer.cancel();
    t->health_timer.cancel();
    for (const auto& weak : t->checking) {
      boost::system::error_code ignored;
      if (auto socket = weak.lock()) socket->close(ignored);
    }
  }
  tasks_.clear();
}

asio::awaitable<void> backend_tasks::resolve_loop(std::shared_ptr<task> t) {
  const auto stopped = stopped_;
  // The first lookup runs at once: until it answers, sessions resolve
  // unresolved names themselves.
  auto wait = std::chrono::steady_clock::duration::zero();
  for (;;) {
    t->resolve_timer.expires_after(wait);
    auto [ec] = co_await t->resolve_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || *stopped) co_return;
    std::vector<endpoint_address> names;
    if (auto pool = t->pool.lock()) {
      names = pool->names();
      wait = pool->settings().resolve_interval;
    } else {
      co_return;
    }
    for (const auto& name : names) {
      auto [resolve_ec, found] = co_await resolver_(name.host, name.port);
      if (*stopped) co_return;
      auto pool = t->pool.lock();
      if (!pool) co_return;
      // A failed lookup keeps the last good addresses: a DNS outage must not
      // empty a pool whose backends are still there.
      if (resolve_ec)
        pool->resolve_failed(name.host, name.port, resolve_ec.message());
      else
        pool->learn(name.host, name.port, found);
    }
  }
}

asio::awaitable<void> backend_tasks::health_loop(std::shared_ptr<task> t) {
  const auto stopped = stopped_;
  for (;;) {
    std::shared_ptr<backend_pool> pool = t->pool.lock();
    if (!pool) co_return;
    const auto interval = pool->settings().health_check_interval;
    // Without checks configured the loop still wakes now and then, so that
    // a reload which turns them on is followed.
    t->health_timer.expires_after(interval ? *interval : std::chrono::seconds(1));
    pool.reset();
    auto [ec] = co_await t->health_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || *stopped) co_return;
    pool = t->pool.lock();
    if (!pool || !pool->settings().health_check_interval) continue;
    // Every member at once, so a member that times out delays no other; the
    // round ends when the last check answers.
    const auto members = pool->members();
    auto remaining = std::make_shared<std::size_t>(members.size());
    auto done = std::make_shared<asio::steady_timer>(executor_, asio::steady_timer::time_point::max());
    for (const auto& member : members) {
      asio::co_spawn(executor_, check(pool, member), [remaining, done](std::exception_ptr, bool) {
        if (--*remaining == 0) done->cancel();
      });
    }
    if (*remaining > 0) co_await done->async_wait(asio::as_tuple(asio::use_awaitable));
    if (*stopped) co_return;
  }
}

asio::awaitable<bool> backend_tasks::check(std::shared_ptr<backend_pool> pool, std::shared_ptr<backend_member> member) {
  const auto stopped = stopped_;
  const auto deadline = std::chrono::steady_clock::now() + pool->settings().connect_timeout;
  auto socket = std::make_shared<tcp::socket>(executor_);
  for (const auto& t : tasks_)
    if (t->pool.lock() == pool) t->checking.push_back(socket);
  asio::steady_timer timeout(executor_, deadline);
  // Shared: a timer that fired just before cancel() still runs its handler after this frame is gone.
  auto timed_out = std::make_shared<bool>(false);
  timeout.async_wait([timed_out, weak = std::weak_ptr<tcp::socket>(socket)](const boost::system::error_code& ec) {
    if (ec) return;
    *timed_out = true;
    if (auto s = weak.lock()) s->cancel();
  });
  auto [ec] = co_await socket->async_connect(member->endpoint(), asio::as_tuple(asio::use_awaitable));
  step_result step;
  if (!ec && check_step_) {
    step = co_await check_step_(*socket, *member, *pool, deadline);
    ec = step.ec;
  }
  timeout.cancel();
  boost::system::error_code ignored;
  socket->close(ignored);
  for (const auto& t : tasks_)
    std::erase_if(t->checking, [&](const std::weak_ptr<tcp::socket>& w) { return w.expired() || w.lock() == socket; });
  if (*stopped) co_return false;
  // Out of descriptors, the check never reached the backend: no verdict.
  if (platform::out_of_descriptors(ec)) co_return false;
  const bool passed = !ec;
  pool->report_check(*member, passed,
                     !step.error.empty() ? step.error
                     : *timed_out        ? "no connection within " + format_duration(pool->settings().connect_timeout)
                                         : ec.message());
  co_return passed;
}

}  // namespace mtlsd::proxy
