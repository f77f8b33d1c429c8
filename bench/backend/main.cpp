// mtlsd-backend: the benchmark's echo / discard TCP backend. Deliberately a
// small hand-written epoll loop rather than Asio: it shares a core with the
// load generator, so every cycle it spends is taken from the load side.
// Owned by the benchmark helper (bench/backend).
#include "server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace {

using mtlsd::bench::backend_mode;

constexpr std::string_view usage_text =
    "usage: mtlsd-backend --listen HOST:PORT [--mode echo|discard]\n"
    "\n"
    "Plain TCP backend for the benchmarks. echo (default) sends every byte back\n"
    "and closes after the client half-closes; discard reads and drops.\n"
    "HOST is an IPv4 address or [IPv6]; port 0 picks a free port. Prints\n"
    "\"listening HOST:PORT\" once bound; runs until SIGTERM/SIGINT.\n";

struct backend_options {
  std::string host;
  unsigned short port = 0;
  backend_mode mode = backend_mode::echo;
};

std::optional<backend_options> parse_options(int argc, char** argv) {
  backend_options out;
  bool have_listen = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--listen" && has_value) {
      const std::string_view text = argv[++i];
      const auto colon = text.rfind(':');
      if (colon == std::string_view::npos) return std::nullopt;
      std::string_view host = text.substr(0, colon);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
      const std::string_view port_text = text.substr(colon + 1);
      unsigned port = 0;
      const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
      if (host.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
        return std::nullopt;
      }
      out.host = std::string(host);
      out.port = static_cast<unsigned short>(port);
      have_listen = true;
    } else if (arg == "--mode" && has_value) {
      const std::string_view mode = argv[++i];
      if (mode == "echo") {
        out.mode = backend_mode::echo;
      } else if (mode == "discard") {
        out.mode = backend_mode::discard;
      } else {
        return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
  }
  if (!have_listen) return std::nullopt;
  return out;
}

// 10,000 proxied connections need 10,000 descriptors here; the soft limit is
// often 1024 while the hard one allows far more.
void raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Returns the listening socket, or -1 after printing why.
int open_listener(const backend_options& options, unsigned short& bound_port) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, options.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(options.port);
    length = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, options.host.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(options.port);
    length = sizeof(sockaddr_in6);
  } else {
    std::fprintf(stderr, "mtlsd-backend: not an IP address: %s\n", options.host.c_str());
    return -1;
  }
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 || ::listen(fd, SOMAXCONN) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    std::fprintf(stderr, "mtlsd-backend: cannot listen on %s:%u: %s\n", options.host.c_str(),
                 static_cast<unsigned>(options.port), std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return -1;
  }
  bound_port = ntohs(family == AF_INET ? v4->sin_port : v6->sin6_port);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse_options(argc, argv);
  if (!options) {
    std::fputs(usage_text.data(), stderr);
    return 2;
  }
  raise_fd_limit();
  // Blocked before anything else so the signalfd in the loop sees them all.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  ::sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  unsigned short port = 0;
  const int listen_fd = open_listener(*options, port);
  if (listen_fd < 0) return 1;
  const bool v6 = options->host.find(':') != std::string::npos;
  std::printf(v6 ? "listening [%s]:%u\n" : "listening %s:%u\n", options->host.c_str(), static_cast<unsigned>(port));
  std::fflush(stdout);

  mtlsd::bench::backend_server server(listen_fd, options->mode);
  return server.run();
}
