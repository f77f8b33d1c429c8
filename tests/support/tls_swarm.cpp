#include "tls_swarm.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <unordered_map>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "process.hpp"

namespace mtlsd::test {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t kept_errors = 8;

enum class step { connecting, handshaking, writing, reading, shutting, awaiting_close, held };

const char* step_name(step s) {
  switch (s) {
    case step::connecting: return "connect";
    case step::handshaking: return "handshake";
    case step::writing: return "write";
    case step::reading: return "read";
    case step::shutting: return "close_notify";
    case step::awaiting_close: return "await close";
    case step::held: return "held";
  }
  return "?";
}

struct connection {
  int fd = -1;
  SSL* ssl = nullptr;
  step at = step::connecting;
  std::size_t written = 0;
  std::string echoed;
  std::uint32_t interest = 0;  // events registered with epoll; 0: not registered
  bool keep = false;           // after the round trip: held open, or closed

  ~connection() {
    if (ssl) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
  }
};

std::string ssl_error_text(SSL* ssl, int ret) {
  const int code = SSL_get_error(ssl, ret);
  const unsigned long e = ERR_get_error();
  if (e != 0) {
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    return text;
  }
  if (code == SSL_ERROR_SYSCALL) return errno != 0 ? std::strerror(errno) : "EOF without close_notify";
  if (code == SSL_ERROR_ZERO_RETURN) return "close_notify instead of data";
  return "SSL error " + std::to_string(code);
}

}  // namespace

std::string swarm_result::describe() const {
  std::string out = "ok=" + std::to_string(ok) + " failed=" + std::to_string(failed) + " in " +
                    std::to_string(elapsed.count()) + " ms";
  if (!errors.empty()) {
    out += "; first errors:";
    for (const auto& e : errors) out += "\n  " + e;
  }
  return out;
}

struct tls_swarm::engine {
  explicit engine(swarm_options o) : options(std::move(o)) {
    ignore_sigpipe();
    std::memset(&target, 0, sizeof target);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&target);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&target);
    if (::inet_pton(AF_INET, options.host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(options.port);
      target_len = sizeof *v4;
    } else if (::inet_pton(AF_INET6, options.host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(options.port);
      target_len = sizeof *v6;
    } else {
      throw harness_error("tls_swarm: not an IP address: " + options.host);
    }

    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) throw harness_error("tls_swarm: SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // Thousands of idle connections: drop the record buffers between reads.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1)
      throw harness_error("tls_swarm: cannot load CA " + options.ca_file.string());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const auto& id = options.identity;
    bool ok = id.cert && id.key && SSL_CTX_use_certificate(ctx, id.cert) == 1 &&
              SSL_CTX_use_PrivateKey(ctx, id.key) == 1;
    for (X509* c : id.chain) ok = ok && SSL_CTX_add1_chain_cert(ctx, c) == 1;
    if (!ok) throw harness_error("tls_swarm: unusable client identity");

    epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) throw harness_error(std::string("tls_swarm: epoll_create1: ") + std::strerror(errno));
  }

  ~engine() {
    live.clear();
    held.clear();
    if (epoll_fd >= 0) ::close(epoll_fd);
    SSL_CTX_free(ctx);
  }

  // Runs until `to_start` new connections and every queued held one are
  // through; `keep` says what new ones do after their round trip.
  swarm_result drive(std::size_t to_start, bool keep, std::deque<std::unique_ptr<connection>> resumed) {
    result = {};
    const auto started_at = clock_type::now();
    const auto deadline = started_at + options.deadline;
    std::size_t started = 0;
    std::vector<epoll_event> events(256);
    while (started < to_start || !resumed.empty() || !live.empty()) {
      while (live.size() < options.in_flight && (started < to_start || !resumed.empty())) {
        if (!resumed.empty()) {
          auto c = std::move(resumed.front());
          resumed.pop_front();
          activate(std::move(c));
        } else {
          ++started;
          start_new(keep);
        }
      }
      const auto now = clock_type::now();
      if (now >= deadline) break;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      const int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(std::min<long long>(left + 1, 100)));
      if (n < 0 && errno != EINTR) throw harness_error(std::string("tls_swarm: epoll_wait: ") + std::strerror(errno));
      for (int i = 0; i < n; ++i) advance(static_cast<connection*>(events[static_cast<std::size_t>(i)].data.ptr));
    }
    // Out of time: whatever is still under way failed.
    for (auto& [ptr, owned] : live) note_failure(*ptr, "timeout");
    result.failed += live.size();
    live.clear();
    for (auto& c : resumed) note_failure(*c, "timeout (never resumed)");
    result.failed += resumed.size();
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - started_at);
    return result;
  }

  void start_new(bool keep) {
    auto c = std::make_unique<connection>();
    c->keep = keep;
    c->fd = ::socket(target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
      fail_new(std::string("socket: ") + std::strerror(errno));
      return;
    }
    const int one = 1;
    ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(c->fd, reinterpret_cast<const sockaddr*>(&target), target_len) != 0 && errno != EINPROGRESS) {
      fail_new(std::string("connect: ") + std::strerror(errno));
      return;
    }
    c->at = step::connecting;
    connection* raw = c.get();
    live.emplace(raw, std::move(c));
    want(*raw, EPOLLOUT);
  }

  void activate(std::unique_ptr<connection> c) {
    connection* raw = c.get();
    live.emplace(raw, std::move(c));
    advance(raw);
  }

  void want(connection& c, std::uint32_t events) {
    if (c.interest == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &c;
    const int op = c.interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (::epoll_ctl(epoll_fd, op, c.fd, &ev) != 0)
      throw harness_error(std::string("tls_swarm: epoll_ctl: ") + std::strerror(errno));
    c.interest = events;
  }

  void unregister(connection& c) {
    if (c.interest == 0) return;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
    c.interest = 0;
  }

  // Waits as OpenSSL asks; false when the error is final.
  bool wait_as_asked(connection& c, int ret) {
    switch (SSL_get_error(c.ssl, ret)) {
      case SSL_ERROR_WANT_READ: want(c, EPOLLIN); return true;
      case SSL_ERROR_WANT_WRITE: want(c, EPOLLOUT); return true;
      default: return false;
    }
  }

  void advance(connection* raw) {
    connection& c = *raw;
    for (;;) {
      ERR_clear_error();
      errno = 0;
      switch (c.at) {
        case step::connecting: {
          int error = 0;
          socklen_t len = sizeof error;
          ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len);
          if (error != 0) return fail(c, std::string("connect: ") + std::strerror(error));
          c.ssl = SSL_new(ctx);
          if (!c.ssl) return fail(c, "SSL_new failed");
          SSL_set_fd(c.ssl, c.fd);
          if (!options.sni.empty()) SSL_set_tlsext_host_name(c.ssl, options.sni.c_str());
          X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c.ssl), options.verify_host.c_str());
          c.at = step::handshaking;
          continue;
        }
        case step::handshaking: {
          const int r = SSL_connect(c.ssl);
          if (r == 1) {
            c.at = step::writing;
            continue;
          }
          if (wait_as_asked(c, r)) return;
          return fail(c, ssl_error_text(c.ssl, r));
        }
        case step::writing: {
          const std::string& p = options.payload;
          const int r = SSL_write(c.ssl, p.data() + c.written, static_cast<int>(p.size() - c.written));
          if (r > 0) {
            c.written += static_cast<std::size_t>(r);
            if (c.written == p.size()) c.at = step::reading;
            continue;
          }
          if (wait_as_asked(c, r)) return;
          return fail(c, ssl_error_text(c.ssl, r));
        }
        case step::reading: {
          char buffer[256];
          const int r = SSL_read(c.ssl, buffer, sizeof buffer);
          if (r > 0) {
            c.echoed.append(buffer, static_cast<std::size_t>(r));
            if (c.echoed.size() < options.payload.size()) continue;
            if (c.echoed != options.payload) return fail(c, "echo differs: got " + std::to_string(c.echoed.size()) + " bytes");
            if (c.keep) return hold(c);
            c.at = step::shutting;
            continue;
          }
          if (wait_as_asked(c, r)) return;
          return fail(c, ssl_error_text(c.ssl, r));
        }
        case step::shutting: {
          const int r = SSL_shutdown(c.ssl);
          if (r >= 0) {
            c.at = step::awaiting_close;
            continue;
          }
          if (wait_as_asked(c, r)) return;
          return fail(c, ssl_error_text(c.ssl, r));
        }
        case step::awaiting_close: {
          char buffer[256];
          const int r = SSL_read(c.ssl, buffer, sizeof buffer);
          if (r > 0) return fail(c, "data after our close_notify");
          if (SSL_get_error(c.ssl, r) == SSL_ERROR_ZERO_RETURN) return finish(c);
          if (wait_as_asked(c, r)) return;
          return fail(c, ssl_error_text(c.ssl, r));
        }
        case step::held:
          // Resumed for another round trip, or for closing.
          c.at = c.keep ? step::writing : step::shutting;
          c.written = 0;
          c.echoed.clear();
          continue;
      }
    }
  }

  void hold(connection& c) {
    unregister(c);
    c.at = step::held;
    ++result.ok;
    auto it = live.find(&c);
    held.push_back(std::move(it->second));
    live.erase(it);
  }

  void finish(connection& c) {
    ++result.ok;
    live.erase(&c);
  }

  void note_failure(const connection& c, const std::string& error) {
    if (result.errors.size() < kept_errors) result.errors.push_back(std::string(step_name(c.at)) + ": " + error);
  }

  void fail(connection& c, const std::string& error) {
    note_failure(c, error);
    ++result.failed;
    live.erase(&c);
  }

  void fail_new(const std::string& error) {
    if (result.errors.size() < kept_errors) result.errors.push_back(error);
    ++result.failed;
  }

  swarm_options options;
  sockaddr_storage target{};
  socklen_t target_len = 0;
  SSL_CTX* ctx = nullptr;
  int epoll_fd = -1;
  std::unordered_map<connection*, std::unique_ptr<connection>> live;
  std::vector<std::unique_ptr<connection>> held;
  swarm_result result;
};

tls_swarm::tls_swarm(swarm_options options) : engine_(std::make_unique<engine>(std::move(options))) {}
tls_swarm::~tls_swarm() = default;

swarm_result tls_swarm::open(std::size_t count) { return engine_->drive(count, true, {}); }

swarm_result tls_swarm::round_trip_all() {
  std::deque<std::unique_ptr<connection>> queued;
  for (auto& c : engine_->held) {
    c->keep = true;
    queued.push_back(std::move(c));
  }
  engine_->held.clear();
  return engine_->drive(0, true, std::move(queued));
}

swarm_result tls_swarm::close_all() {
  std::deque<std::unique_ptr<connection>> queued;
  for (auto& c : engine_->held) {
    c->keep = false;
    queued.push_back(std::move(c));
  }
  engine_->held.clear();
  return engine_->drive(0, false, std::move(queued));
}

std::size_t tls_swarm::held() const { return engine_->held.size(); }

swarm_result tls_swarm::cycle(std::size_t total) { return engine_->drive(total, false, {}); }

}  // namespace mtlsd::test
